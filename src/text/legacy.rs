//! Vietnamese typed in the legacy 8-bit fonts, decoded to Unicode.
//!
//! Before Unicode, offices typed with TCVN3 (ABC) fonts (`.VnTime`, `.VnArial`; the `…H` fonts
//! draw the same codes as capitals) and VNI-Windows fonts (`VNI-Times`). A .docx or .xls keeps
//! those bytes as Latin-1 characters, so "Báo cáo" arrives as `B¸o c¸o` (TCVN3) or `Baùo caùo`
//! (VNI). TCVN3 puts one precomposed letter in one byte (TCVN 5712:1993, VN3); VNI writes a
//! letter and then a mark character after it.
//!
//! Where no font is named the encoding is recognised by the text's own statistics: characters
//! that never occur in Vietnamese Unicode (`¸ µ ¶ · ¹ ¨ © ª « ¬ ® §` …) for TCVN3, a vowel
//! followed by a VNI mark (`aù`, `oà`) for VNI. TCVN3's `ư` is byte 0xAD, the soft hyphen of
//! Latin-1: this runs before anything strips invisible characters.

use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy {
    Tcvn3,
    Vni,
}

impl Legacy {
    pub fn as_str(&self) -> &'static str {
        match self {
            Legacy::Tcvn3 => "tcvn3",
            Legacy::Vni => "vni",
        }
    }

    /// The encoding a font name says its text is in (`.VnTime`, `.VnTimeH`, `VNI-Times`).
    pub fn of_font(font: &str) -> Option<Legacy> {
        let f = font.trim();
        if f.starts_with(".Vn") || f.starts_with(".vn") {
            Some(Legacy::Tcvn3)
        } else if f.len() > 4 && f[..4].eq_ignore_ascii_case("VNI-") {
            Some(Legacy::Vni)
        } else {
            None
        }
    }
}

/// TCVN3 (VN3) bytes 0xA1..=0xFF. Slots VN3 leaves empty hold VN1's capitals, as glibc's
/// TCVN5712-1 does; 0xB0..=0xB4 are its combining tone marks.
const TCVN3: [char; 95] = [
    'Ă', 'Â', 'Ê', 'Ô', 'Ơ', 'Ư', 'Đ', 'ă', 'â', 'ê', 'ô', 'ơ', 'ư', 'đ', 'Ằ', // A1..AF
    '\u{300}', '\u{309}', '\u{303}', '\u{301}', '\u{323}', 'à', 'ả', 'ã', 'á', 'ạ', 'Ẳ', 'ằ', 'ẳ', 'ẵ', 'ắ', 'Ẵ', // B0..BF
    'Ắ', 'Ầ', 'Ẩ', 'Ẫ', 'Ấ', 'Ề', 'ặ', 'ầ', 'ẩ', 'ẫ', 'ấ', 'ậ', 'è', 'Ể', 'ẻ', 'ẽ', // C0..CF
    'é', 'ẹ', 'ề', 'ể', 'ễ', 'ế', 'ệ', 'ì', 'ỉ', 'Ễ', 'Ế', 'Ồ', 'ĩ', 'í', 'ị', 'ò', // D0..DF
    'Ổ', 'ỏ', 'õ', 'ó', 'ọ', 'ồ', 'ổ', 'ỗ', 'ố', 'ộ', 'ờ', 'ở', 'ỡ', 'ớ', 'ợ', 'ù', // E0..EF
    'Ỗ', 'ủ', 'ũ', 'ú', 'ụ', 'ừ', 'ử', 'ữ', 'ứ', 'ự', 'ỳ', 'ỷ', 'ỹ', 'ý', 'ỵ', 'Ố', // F0..FF
];

/// Characters TCVN3 text is full of and Vietnamese Unicode text never has.
fn tcvn3_sign(c: char) -> bool {
    matches!(c, '\u{a1}'..='\u{bf}') || matches!(c, 'Æ' | 'Ç' | 'Ë' | 'Î' | 'Ï' | 'Ñ' | 'Ö' | '×' | 'Ø' | 'Ü' | 'Þ' | 'ß' | 'å' | 'æ' | 'ç' | 'ë' | 'î' | 'ï' | 'ñ' | 'ö' | '÷' | 'ø' | 'û' | 'ü' | 'þ' | 'ÿ')
}

/// Letters only Vietnamese Unicode has (ă ơ ư đ and the precomposed tone letters).
fn unicode_vietnamese(c: char) -> bool {
    matches!(c, 'ă' | 'Ă' | 'ơ' | 'Ơ' | 'ư' | 'Ư' | 'đ' | 'Đ' | 'ĩ' | 'Ĩ' | 'ũ' | 'Ũ') || ('\u{1ea0}'..='\u{1ef9}').contains(&c)
}

/// A VNI mark: (vowel modifier, tone) it adds to the letter before it.
fn vni_mark(c: char) -> Option<(Option<char>, Option<char>)> {
    // Modifiers: '^' circumflex, '(' breve. Tones as combining marks.
    let (m, t) = match c.to_lowercase().next()? {
        'ù' => (None, '\u{301}'),
        'ø' => (None, '\u{300}'),
        'û' => (None, '\u{309}'),
        'õ' => (None, '\u{303}'),
        'ï' => (None, '\u{323}'),
        'â' => (Some('^'), '\0'),
        'á' => (Some('^'), '\u{301}'),
        'à' => (Some('^'), '\u{300}'),
        'å' => (Some('^'), '\u{309}'),
        'ã' => (Some('^'), '\u{303}'),
        'ä' => (Some('^'), '\u{323}'),
        'ê' => (Some('('), '\0'),
        'é' => (Some('('), '\u{301}'),
        'è' => (Some('('), '\u{300}'),
        'ú' => (Some('('), '\u{309}'),
        'ü' => (Some('('), '\u{303}'),
        'ë' => (Some('('), '\u{323}'),
        _ => return None,
    };
    Some((m, (t != '\0').then_some(t)))
}

/// A VNI mark that cannot follow a vowel in Vietnamese Unicode (`oà`, `uê`, `oá` can: old tone
/// placement, `thuê`), so it is evidence of VNI.
fn vni_strong_mark(c: char) -> bool {
    matches!(c.to_lowercase().next().unwrap_or(c), 'ù' | 'ø' | 'û' | 'õ' | 'ï' | 'å' | 'ä' | 'ë' | 'ü' | 'ú')
}

/// VNI's letters that stand alone: đ, ơ, ư and the i/y letters.
fn vni_single(c: char) -> Option<char> {
    Some(match c {
        'ñ' => 'đ',
        'Ñ' => 'Đ',
        'ô' => 'ơ',
        'Ô' => 'Ơ',
        'ö' => 'ư',
        'Ö' => 'Ư',
        'æ' => 'ỉ',
        'Æ' => 'Ỉ',
        'ó' => 'ĩ',
        'Ó' => 'Ĩ',
        'ò' => 'ị',
        'Ò' => 'Ị',
        'î' => 'ỵ',
        'Î' => 'Ỵ',
        _ => return None,
    })
}

/// The vowels a VNI mark may follow (ô/ö are VNI's ơ/ư).
fn vni_base(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 'a' | 'e' | 'o' | 'u' | 'y' | 'i') || matches!(c, 'ô' | 'Ô' | 'ö' | 'Ö')
}

/// Which legacy encoding `s` is in, if its statistics say so clearly.
pub fn detect(s: &str) -> Option<Legacy> {
    if s.is_ascii() {
        return None;
    }
    let (mut tcvn, mut vni, mut uni, mut letters) = (0usize, 0usize, 0usize, 0usize);
    let mut prev = ' ';
    for c in s.chars() {
        if c.is_alphabetic() {
            letters += 1;
        }
        if tcvn3_sign(c) {
            tcvn += 1;
        }
        if unicode_vietnamese(c) {
            uni += 1;
        }
        if vni_base(prev) && vni_strong_mark(c) || matches!(c, 'ñ' | 'Ñ') {
            vni += 1;
        }
        prev = c;
    }
    // Genuine Vietnamese letters mean Unicode text, whatever else it holds.
    if uni * 4 > tcvn.max(vni) || letters == 0 {
        return None;
    }
    if vni >= 2 && vni * 2 >= tcvn {
        Some(Legacy::Vni)
    } else if tcvn >= 2 || (tcvn == 1 && letters < 12) {
        Some(Legacy::Tcvn3)
    } else {
        None
    }
}

/// Decodes TCVN3 text. With `capitals` (the `…H` fonts) the letters are drawn as capitals.
pub fn decode_tcvn3(s: &str, capitals: bool) -> String {
    let out: String = s
        .chars()
        .map(|c| match c as u32 {
            0xA1..=0xFF => TCVN3[(c as u32 - 0xA1) as usize],
            _ => c,
        })
        .collect::<String>()
        .nfc()
        .collect();
    if capitals {
        out.to_uppercase()
    } else {
        fix_capital_words(&out)
    }
}

/// Words typed in a capitals font without its name known (`B¸O C¸O` → `BáO CáO`): a word whose
/// other letters are all capitals is put in capitals.
fn fix_capital_words(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, word) in s.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let ascii_upper = word.chars().filter(|c| c.is_ascii_uppercase()).count();
        let ascii_lower = word.chars().filter(|c| c.is_ascii_lowercase()).count();
        if ascii_upper >= 1 && ascii_lower == 0 && word.chars().any(|c| !c.is_ascii() && c.is_lowercase()) {
            out.push_str(&word.to_uppercase());
        } else {
            out.push_str(word);
        }
    }
    out
}

/// Decodes VNI-Windows text.
pub fn decode_vni(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if vni_base(c) {
            let base = vni_single(c).filter(|_| matches!(c, 'ô' | 'Ô' | 'ö' | 'Ö')).unwrap_or(c);
            if let Some((modifier, tone)) = next.and_then(vni_mark) {
                let upper = base.is_uppercase();
                let lower = base.to_lowercase().next().unwrap_or(base);
                let with_mod = match (lower, modifier) {
                    ('a', Some('^')) => 'â',
                    ('a', Some('(')) => 'ă',
                    ('e', Some('^')) => 'ê',
                    ('o', Some('^')) => 'ô',
                    (l, None) => l,
                    // A modifier this letter cannot take: not VNI after all.
                    _ => {
                        out.push(base);
                        i += 1;
                        continue;
                    }
                };
                let mut composed: String = std::iter::once(with_mod).chain(tone).collect::<String>().nfc().collect();
                if upper {
                    composed = composed.to_uppercase();
                }
                out.push_str(&composed);
                i += 2;
                continue;
            }
            out.push(base);
            i += 1;
            continue;
        }
        out.push(vni_single(c).unwrap_or(c));
        i += 1;
    }
    out
}

/// Decodes `s` from `legacy`.
pub fn decode(s: &str, legacy: Legacy) -> String {
    match legacy {
        Legacy::Tcvn3 => decode_tcvn3(s, false),
        Legacy::Vni => decode_vni(s),
    }
}

/// Decodes `s` when it is itself in `legacy` (it has the encoding's signs and no genuine
/// Vietnamese letters); a Unicode paragraph in a mostly legacy document is left alone.
pub fn decode_if_legacy(s: &str, legacy: Legacy) -> Option<String> {
    if s.is_ascii() || s.chars().any(unicode_vietnamese) {
        return None;
    }
    let signs = match legacy {
        Legacy::Tcvn3 => s.chars().any(tcvn3_sign),
        Legacy::Vni => {
            let v: Vec<char> = s.chars().collect();
            v.windows(2).any(|w| vni_base(w[0]) && vni_mark(w[1]).is_some()) || v.iter().any(|c| matches!(c, 'ñ' | 'Ñ' | 'ô' | 'ö' | 'Ô' | 'Ö' | 'æ' | 'Æ' | 'î' | 'Î'))
        }
    };
    signs.then(|| decode(s, legacy))
}

/// Encodes Unicode Vietnamese as TCVN3 (for tests: documents typed in `.VnTime`).
pub fn encode_tcvn3(s: &str) -> String {
    s.nfc()
        .map(|c| match TCVN3.iter().position(|t| *t == c).filter(|i| !(15..20).contains(i)) {
            Some(i) => char::from_u32(0xA1 + i as u32).unwrap_or(c),
            None => match c.to_lowercase().next().and_then(|l| TCVN3.iter().position(|t| *t == l)) {
                // Capitals with tones have no VN3 code: the .VnTimeH way, the lowercase code.
                Some(i) if c.is_uppercase() && !c.is_ascii() => char::from_u32(0xA1 + i as u32).unwrap_or(c),
                _ => c,
            },
        })
        .collect()
}

/// Encodes Unicode Vietnamese as VNI-Windows (for tests).
pub fn encode_vni(s: &str) -> String {
    let mut out = String::new();
    for c in s.nfc() {
        if let Some(single) = ['ñ', 'Ñ', 'ô', 'Ô', 'ö', 'Ö', 'æ', 'Æ', 'ó', 'Ó', 'ò', 'Ò', 'î', 'Î'].iter().find(|x| vni_single(**x) == Some(c)) {
            out.push(*single);
            continue;
        }
        let d: Vec<char> = std::iter::once(c).collect::<String>().nfd().collect();
        let base = d[0];
        if d.len() == 1 || !base.is_ascii_alphabetic() {
            out.push(c);
            continue;
        }
        let upper = base.is_uppercase();
        let has = |m: char| d.contains(&m);
        let tone = ['\u{301}', '\u{300}', '\u{309}', '\u{303}', '\u{323}'].into_iter().find(|t| has(*t));
        // ơ/ư: the horn letter, then the tone.
        if has('\u{31b}') {
            out.push(match (base.to_ascii_lowercase(), upper) {
                ('o', false) => 'ô',
                ('o', true) => 'Ô',
                ('u', false) => 'ö',
                _ => 'Ö',
            });
            if let Some(t) = tone {
                out.push(tone_mark(None, t, upper));
            }
            continue;
        }
        out.push(base);
        let modifier = if has('\u{302}') {
            Some('^')
        } else if has('\u{306}') {
            Some('(')
        } else {
            None
        };
        match (modifier, tone) {
            (None, Some(t)) => out.push(tone_mark(None, t, upper)),
            (Some(m), t) => out.push(tone_mark(Some(m), t.unwrap_or('\0'), upper)),
            (None, None) => {}
        }
    }
    out
}

fn tone_mark(modifier: Option<char>, tone: char, upper: bool) -> char {
    let l = match (modifier, tone) {
        (None, '\u{301}') => 'ù',
        (None, '\u{300}') => 'ø',
        (None, '\u{309}') => 'û',
        (None, '\u{303}') => 'õ',
        (None, _) => 'ï',
        (Some('^'), '\0') => 'â',
        (Some('^'), '\u{301}') => 'á',
        (Some('^'), '\u{300}') => 'à',
        (Some('^'), '\u{309}') => 'å',
        (Some('^'), '\u{303}') => 'ã',
        (Some('^'), _) => 'ä',
        (_, '\0') => 'ê',
        (_, '\u{301}') => 'é',
        (_, '\u{300}') => 'è',
        (_, '\u{309}') => 'ú',
        (_, '\u{303}') => 'ü',
        (_, _) => 'ë',
    };
    if upper {
        l.to_uppercase().next().unwrap_or(l)
    } else {
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: [&str; 4] = [
        "Báo cáo kết quả thực hiện công tác cải cách hành chính quý I năm 2021",
        "Trung tâm Y tế huyện Bắc Sơn; Bệnh viện Đa khoa tỉnh Thanh Hóa; ưu tiên, người dân, mức độ hài lòng",
        "Điểm tự chấm đạt được: tổng cộng; Sở Y tế; Ủy ban nhân dân; ỷ lại, kỹ thuật, ỵ, ỳ, ý, ỹ",
        "Ấp Ẩn Ẫn Ậm Ắc Ằn Ẳn Ẵn Ặc Ếch Ềm Ểu Ễn Ệu Ốc Ồn Ổn Ỗn Ộn Ớt Ờn Ởn Ỡn Ợn Ứng Ừng Ửng Ững Ựng",
    ];

    #[test]
    fn tcvn3_as_offices_typed_it_reads_back() {
        assert_eq!(decode_tcvn3("B¸o c¸o", false), "Báo cáo");
        assert_eq!(decode_tcvn3("Trung t©m Y tÕ", false), "Trung tâm Y tế");
        // ư is 0xAD, the soft hyphen of Latin-1.
        assert_eq!(decode_tcvn3("ng\u{ad}êi", false), "người");
        assert_eq!(decode_tcvn3("b¸o c¸o", true), "BÁO CÁO", "a .VnTimeH run");
        assert_eq!(decode_tcvn3("B¸O C¸O", false), "BÁO CÁO", "capitals typed without the font's name");
    }

    #[test]
    fn vni_as_offices_typed_it_reads_back() {
        assert_eq!(decode_vni("Baùo caùo"), "Báo cáo");
        assert_eq!(decode_vni("Trung taâm Y teá huyeän Baéc Sôn"), "Trung tâm Y tế huyện Bắc Sơn");
        assert_eq!(decode_vni("ÑIEÅM TÖÏ CHAÁM"), "ĐIỂM TỰ CHẤM");
        assert_eq!(decode_vni("ngöôøi"), "người");
    }

    #[test]
    fn both_tables_round_trip_every_vietnamese_letter() {
        for s in SAMPLES {
            let lower = s.to_lowercase();
            assert_eq!(decode_tcvn3(&encode_tcvn3(&lower), false), lower, "tcvn3 {lower}");
            assert_eq!(decode_tcvn3(&encode_tcvn3(&s.to_uppercase()), true), s.to_uppercase(), "tcvn3 capitals");
            assert_eq!(decode_vni(&encode_vni(s)), *s, "vni {s}");
            assert_eq!(detect(&encode_tcvn3(&lower)), Some(Legacy::Tcvn3), "{}", encode_tcvn3(&lower));
            assert_eq!(detect(&encode_vni(s)), Some(Legacy::Vni), "{}", encode_vni(s));
        }
    }

    #[test]
    fn unicode_and_plain_text_are_never_taken_for_legacy() {
        for s in SAMPLES.iter().copied().chain(["Báo cáo", "mù, bù, tù, ù ù", "Résumé à la carte", "Số liệu © 2021", "plain ascii"]) {
            assert_eq!(detect(s), None, "{s}");
        }
        assert_eq!(decode_if_legacy("Báo cáo quý I", Legacy::Tcvn3), None);
    }

    #[test]
    fn fonts_name_their_encoding() {
        assert_eq!(Legacy::of_font(".VnTime"), Some(Legacy::Tcvn3));
        assert_eq!(Legacy::of_font(".VnTimeH"), Some(Legacy::Tcvn3));
        assert_eq!(Legacy::of_font("VNI-Times"), Some(Legacy::Vni));
        assert_eq!(Legacy::of_font("Times New Roman"), None);
    }
}
