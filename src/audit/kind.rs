//! The kinds of audit event: the word each is stored under (part of the chain's hash, so it
//! never changes) and its name in the office's words. Code writes an event by its variant; only
//! the stored chain and the page that shows it meet the words.

/// Declares the kinds once: variant, stored word, Vietnamese name.
macro_rules! kinds {
    ($($variant:ident = $word:literal, $vi:literal;)*) => {
        /// Every kind of event written.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Kind { $($variant),* }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            /// The word stored in the chain.
            pub fn as_str(self) -> &'static str {
                match self { $(Kind::$variant => $word),* }
            }

            /// The kind's name as the office reads it.
            pub fn label_vi(self) -> &'static str {
                match self { $(Kind::$variant => $vi),* }
            }

            /// The kind stored under `word`; None for one this build does not know (written by
            /// a newer version: shown by its word, and verified all the same).
            pub fn parse(word: &str) -> Option<Kind> {
                match word { $($word => Some(Kind::$variant),)* _ => None }
            }
        }
    };
}

kinds! {
    MessageReceived = "message_received", "Nhận thư";
    DocumentsParsed = "documents_parsed", "Đọc tệp đính kèm";
    Decision = "decision", "Quyết định tự động";
    ReviewAssign = "review_assign", "Chấp nhận, gán (người duyệt)";
    ReviewReject = "review_reject", "Từ chối (người duyệt)";
    Reprocessed = "reprocessed", "Đọc lại";
    MessageSetAside = "message_set_aside", "Để riêng thư lỗi";
    AckSkipped = "ack_skipped", "Không gửi báo nhận";
    MailQueued = "mail_queued", "Xếp thư đi";
    MailSent = "mail_sent", "Đã gửi thư";
    MailFailed = "mail_failed", "Gửi thư lỗi";
    MailRetry = "mail_retry", "Gửi lại thư";
    MailRecipientRefused = "mail_recipient_refused", "Người nhận bị từ chối";
    MailNotBuilt = "mail_not_built", "Không tạo được thư";
    OutboxBlocked = "outbox_blocked", "Máy chủ thư không nhận";
    OutboxUnblocked = "outbox_unblocked", "Máy chủ thư nhận lại";
    ReminderDecided = "reminder_decided", "Quyết định nhắc nộp";
    DigestDecided = "digest_decided", "Lập bản tin tuần";
    StatusDecided = "status_decided", "Lập bảng tình hình";
    ReviewNoticeDecided = "review_notice_decided", "Lập thư báo việc chờ xử lý";
    Exempt = "exempt", "Miễn nộp";
    ExemptWithdrawn = "exempt_withdrawn", "Bỏ miễn nộp";
    ExtensionGranted = "extension_granted", "Gia hạn";
    ExtensionWithdrawn = "extension_withdrawn", "Thôi gia hạn";
    MailHandled = "mail_handled", "Đã xử lý thư khác";
    MailAnswered = "mail_answered", "Trả lời thư khác";
    RequestAdded = "request_added", "Thêm công văn";
    RequestConfirmed = "request_confirmed", "Xác nhận yêu cầu của công văn";
    RequestCancelled = "request_cancelled", "Hủy yêu cầu của công văn";
    FiguresConfirmed = "figures_confirmed", "Xác nhận số liệu đọc từ ảnh";
    AccountAdded = "account_added", "Thêm tài khoản";
    AccountDisabled = "account_disabled", "Khoá tài khoản";
    AccountEnabled = "account_enabled", "Mở khoá tài khoản";
    AccountPassword = "account_password", "Đổi mật khẩu";
    ConfigLoaded = "config_loaded", "Nạp cấu hình";
    DirectoryImported = "directory_imported", "Nạp danh mục đơn vị, loại báo cáo từ tệp cấu hình";
    UnitAdded = "unit_added", "Thêm đơn vị";
    UnitChanged = "unit_changed", "Sửa thông tin đơn vị";
    UnitMerged = "unit_merged", "Sáp nhập đơn vị";
    GroupChanged = "group_changed", "Đặt tên nhóm đơn vị";
    ReportAdded = "report_added", "Thêm loại báo cáo";
    ReportChanged = "report_changed", "Sửa hạn nộp, lịch nhắc của loại báo cáo";
}
