//! Decisions an office can trust (issue: trust in every decision): evidence that disagrees
//! goes to a person with both sides named; what is said to a unit is true; documents typed the
//! old way decide as surely as Unicode ones.

mod common;
use common::forms::{self, Habits};
use common::*;
use serde_json::Value;

fn subs(o: &Office) -> Vec<Value> {
    o.json(&["submissions", "--json"]).as_array().unwrap().clone()
}

fn by_mid<'a>(s: &'a [Value], mid: &str) -> &'a Value {
    s.iter().find(|x| x["message_id"] == mid).unwrap_or_else(|| panic!("{mid} was not recorded"))
}

/// The stations' office without the form: kind and period come from the words alone.
fn stations(db: Db) -> Office {
    let cfg = forms::CONFIG.replace("form = \"forms/bieu-thang.xlsx\"\nform_rules = [\"{7.1} <= {7}\"]\n", "");
    assert!(!cfg.contains("form ="), "the config without its form");
    Office::with_config(db, &cfg)
}

#[test]
fn a_workbook_typed_in_tcvn3_decides_kind_and_period_by_its_title_alone() {
    let o = stations(Db::Sqlite);
    let f = forms::figures(100.0, 4);
    let x = forms::station_xlsx("Trạm Y tế xã An Phú", 4, &f, &Habits { tcvn3: true, ..Default::default() });
    let (d, t) = at(2023, 5, 3, 9);
    o.deliver(t, "a", &mail("tyt.anphu@test.example", "Gui file", "<tcvn3@test>", &d, "", &[("file.xlsx", &x)]));
    o.ok(&["ingest", "--no-deliver", "inbox"]);
    let s = subs(&o);
    let m = by_mid(&s, "<tcvn3@test>");
    assert_eq!(m["documents"][0]["legacy_encoding"], "tcvn3");
    assert_eq!((m["decision"].as_str(), m["report"].as_str(), m["period"].as_str()), (Some("accepted"), Some("tyt-thang"), Some("2023-04")), "{m}");
    assert_eq!(m["reasons"], serde_json::json!([]));
}

#[test]
fn a_stations_file_reused_from_last_month_goes_to_review_with_both_months() {
    let o = stations(Db::Sqlite);
    // April's workbook (its title says April) sent again as May's: the subject and the file name say May.
    let x = forms::station_xlsx("Trạm Y tế xã Bình Minh", 4, &forms::figures(90.0, 4), &Habits::default());
    let (d, t) = at(2023, 6, 2, 9);
    o.deliver(t, "b", &mail("tyt.binhminh@test.example", "Báo cáo hoạt động trạm y tế tháng 5 năm 2023", "<reuse@test>", &d, "", &[("BC thang 5-2023.xlsx", &x)]));
    o.ok(&["ingest", "--no-deliver", "inbox"]);
    let s = subs(&o);
    let m = by_mid(&s, "<reuse@test>");
    assert_eq!(m["decision"], "needs_review", "never accepted for either month silently: {m}");
    let reasons = m["reasons"].to_string();
    assert!(reasons.contains("tháng 4 năm 2023") && reasons.contains("tháng 5 năm 2023"), "both months are named: {reasons}");
}
