//! Every user-visible string of the report in Chinese and English, in one table.
//!
//! A string is a [`Msg`]; [`Msg::text`] gives it in a [`Lang`]. The `match` in
//! [`Msg::pair`] is the table: adding a `Msg` without both languages does not compile.

/// Language of the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    En,
    /// Simplified Chinese, the default: the users read Chinese first.
    #[default]
    Zh,
}

impl Lang {
    /// `zh` or `en`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// Parses `zh` or `en`.
    pub fn from_id(s: &str) -> Option<Lang> {
        match s {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The HTML `lang` attribute.
    pub const fn html_lang(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    /// Picks the string of this language.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

/// A user-visible string of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    AppLabel,
    AppCategory,
    Audience,
    AudienceChildren,
    AudienceGeneral,
    Abbreviations,
    Bytes,
    CaptureTime,
    ChainHead,
    Clauses,
    Count,
    DeclaredPi,
    DeclaredSdks,
    Destination,
    Destinations,
    DestinationsIntro,
    Device,
    DeviceIdentifiers,
    Disclaimer,
    Encrypted,
    Encoding,
    Evidence,
    EventAppLaunched,
    EventConsentDenied,
    EventConsentGranted,
    EventConsentWithdrawn,
    EventGuardianConsent,
    EventSensitiveConsent,
    EventSessionEnd,
    Events,
    FileRole,
    Findings,
    FindingsNone,
    FirstParty,
    FirstPartyDomains,
    Flow,
    Generated,
    InputFiles,
    Ips,
    Mac,
    MoreRefs,
    NoneValue,
    Notes,
    Package,
    Packets,
    Party,
    Path,
    Phase,
    PhaseAfterConsent,
    PhaseAfterDenial,
    PhaseAfterWithdrawal,
    PhaseBeforeConsent,
    PhaseNoSession,
    PiItems,
    PiLeak,
    PiType,
    Plaintext,
    Records,
    RoleCapture,
    RoleKeylog,
    RoleRecords,
    RoleSession,
    Rule,
    RulesOff,
    SdkContact,
    SdkLabel,
    SessionFacts,
    SessionId,
    Severity,
    SeverityHigh,
    SeverityLow,
    SeverityMedium,
    Summary,
    ThirdParty,
    Time,
    TimeAxis,
    Timeline,
    TimelineIntro,
    TimelineLegendContact,
    TimelineLegendLeak,
    TimelineLegendSensitive,
    Title,
    Transmissions,
    TransmissionsNone,
    TransmissionsTruncated,
    Type,
    Value,
    Via,
    Where,
}

impl Msg {
    /// (Chinese, English).
    pub const fn pair(self) -> (&'static str, &'static str) {
        match self {
            Msg::AppLabel => ("被测应用", "App under test"),
            Msg::AppCategory => ("应用类型（必要范围规定）", "App type (necessary-PI rules)"),
            Msg::Audience => ("面向人群", "Audience"),
            Msg::AudienceChildren => ("儿童（不满十四周岁）", "children (under 14)"),
            Msg::AudienceGeneral => ("一般用户", "general"),
            Msg::Abbreviations => ("法规简称", "Regulations cited"),
            Msg::Bytes => ("字节数", "bytes"),
            Msg::CaptureTime => ("抓包时间范围", "Capture time span"),
            Msg::ChainHead => ("记录链末条哈希", "Record chain head hash"),
            Msg::Clauses => ("对应条款", "Clauses"),
            Msg::Count => ("次数", "Count"),
            Msg::DeclaredPi => ("隐私政策声明的个人信息", "PI declared in the privacy policy"),
            Msg::DeclaredSdks => ("隐私政策声明的SDK", "SDKs declared in the privacy policy"),
            Msg::Destination => ("目的地", "Destination"),
            Msg::Destinations => ("目的地 × 个人信息类型", "Destinations × PI types"),
            Msg::DestinationsIntro => (
                "每个目的地（主机名，无主机名时为地址）收到各类个人信息的次数。",
                "How many times each destination (host name, else address) received each PI type.",
            ),
            Msg::Device => ("测试设备", "Test device"),
            Msg::DeviceIdentifiers => ("设备标识（已脱敏）", "Device identifiers (masked)"),
            Msg::Disclaimer => (
                "本报告陈述在网络流量中观察到的技术事实及其可能对应的条款，不构成法律结论。",
                "This report states technical facts observed in network traffic and the clauses they may be evidence for; it is not a legal conclusion.",
            ),
            Msg::Encrypted => ("已加密", "encrypted"),
            Msg::Encoding => ("编码", "encoding"),
            Msg::Evidence => ("证据记录", "Evidence records"),
            Msg::EventAppLaunched => ("启动应用", "app launched"),
            Msg::EventConsentDenied => ("拒绝同意", "consent denied"),
            Msg::EventConsentGranted => ("同意隐私政策", "consent granted"),
            Msg::EventConsentWithdrawn => ("撤回同意", "consent withdrawn"),
            Msg::EventGuardianConsent => ("监护人同意", "guardian consent"),
            Msg::EventSensitiveConsent => ("敏感信息单独同意", "separate consent (sensitive PI)"),
            Msg::EventSessionEnd => ("测试结束", "session end"),
            Msg::Events => ("测试事件", "Test events"),
            Msg::FileRole => ("用途", "role"),
            Msg::Findings => ("发现", "Findings"),
            Msg::FindingsNone => ("未发现违反规则的情况。", "No rule was found broken."),
            Msg::FirstParty => ("第一方", "first party"),
            Msg::FirstPartyDomains => ("应用自有域名", "App's own domains"),
            Msg::Flow => ("流", "flow"),
            Msg::Generated => ("生成工具", "Generated by"),
            Msg::InputFiles => ("输入文件及其SHA-256", "Input files and their SHA-256"),
            Msg::Ips => ("IP地址", "IP addresses"),
            Msg::Mac => ("MAC地址", "MAC address"),
            Msg::MoreRefs => ("另有 {} 条证据记录见 report.json", "{} more evidence records in report.json"),
            Msg::NoneValue => ("无", "none"),
            Msg::Notes => ("说明", "Notes"),
            Msg::Package => ("包名", "Package"),
            Msg::Packets => ("数据包", "packets"),
            Msg::Party => ("第一方/第三方", "first/third party"),
            Msg::Path => ("文件", "file"),
            Msg::Phase => ("同意阶段", "consent phase"),
            Msg::PhaseAfterConsent => ("同意后", "after consent"),
            Msg::PhaseAfterDenial => ("拒绝后", "after denial"),
            Msg::PhaseAfterWithdrawal => ("撤回后", "after withdrawal"),
            Msg::PhaseBeforeConsent => ("同意前", "before consent"),
            Msg::PhaseNoSession => ("会话外", "no session"),
            Msg::PiItems => ("个人信息", "PI"),
            Msg::PiLeak => ("个人信息传输", "PI transmission"),
            Msg::PiType => ("个人信息类型", "PI type"),
            Msg::Plaintext => ("明文", "plaintext"),
            Msg::Records => ("记录", "records"),
            Msg::RoleCapture => ("抓包文件", "capture"),
            Msg::RoleKeylog => ("TLS密钥日志", "TLS key log"),
            Msg::RoleRecords => ("记录链（JSON Lines）", "record chain (JSON Lines)"),
            Msg::RoleSession => ("测试会话文件", "session file"),
            Msg::Rule => ("规则", "Rule"),
            Msg::RulesOff => ("未执行的规则", "Rules not run"),
            Msg::SdkContact => ("第三方SDK连接", "SDK contact"),
            Msg::SdkLabel => ("SDK", "SDK"),
            Msg::SessionFacts => ("测试会话", "Test session"),
            Msg::SessionId => ("会话编号", "Session id"),
            Msg::Severity => ("严重程度", "Severity"),
            Msg::SeverityHigh => ("高", "high"),
            Msg::SeverityLow => ("低", "low"),
            Msg::SeverityMedium => ("中", "medium"),
            Msg::Summary => ("概要", "Summary"),
            Msg::ThirdParty => ("第三方", "third party"),
            Msg::Time => ("时间（北京时间）", "Time (Beijing)"),
            Msg::TimeAxis => (
                "北京时间（UTC+8）；记录中的时间以UTC保存",
                "Beijing time (UTC+8); record times are stored in UTC",
            ),
            Msg::Timeline => ("同意时间线", "Consent timeline"),
            Msg::TimelineIntro => (
                "每一行是一个目的地；每个标记是一次个人信息传输或一次第三方SDK连接，背景色为当时的同意阶段。",
                "Each row is one destination; each mark is one PI transmission or one SDK contact, over the consent phase in force at the time.",
            ),
            Msg::TimelineLegendContact => ("SDK连接", "SDK contact"),
            Msg::TimelineLegendLeak => ("个人信息传输", "PI transmission"),
            Msg::TimelineLegendSensitive => ("含敏感个人信息", "with sensitive PI"),
            Msg::Title => ("个人信息收集检测报告", "Personal information collection report"),
            Msg::Transmissions => ("全部传输与连接", "Every transmission and contact"),
            Msg::TransmissionsNone => (
                "未观察到个人信息传输或第三方SDK连接。",
                "No PI transmission or SDK contact was observed.",
            ),
            Msg::TransmissionsTruncated => (
                "另有 {} 条记录未列出（见 records.jsonl）",
                "{} more records not listed (see records.jsonl)",
            ),
            Msg::Type => ("类型", "type"),
            Msg::Value => ("值（已脱敏）", "value (masked)"),
            Msg::Via => ("识别方式", "seen via"),
            Msg::Where => ("位置", "where"),
        }
    }

    /// The string in `lang`.
    pub fn text(self, lang: Lang) -> &'static str {
        let (zh, en) = self.pair();
        lang.pick(zh, en)
    }
}

/// The label of a consent phase id.
pub fn phase_label(phase: &str, lang: Lang) -> &'static str {
    let msg = match phase {
        "before_consent" => Msg::PhaseBeforeConsent,
        "after_consent" => Msg::PhaseAfterConsent,
        "after_denial" => Msg::PhaseAfterDenial,
        "after_withdrawal" => Msg::PhaseAfterWithdrawal,
        _ => Msg::PhaseNoSession,
    };
    msg.text(lang)
}

/// The label of a session event kind id.
pub fn event_label(kind: &str, lang: Lang) -> &'static str {
    let msg = match kind {
        "app_launched" => Msg::EventAppLaunched,
        "consent_denied" => Msg::EventConsentDenied,
        "consent_granted" => Msg::EventConsentGranted,
        "consent_withdrawn" => Msg::EventConsentWithdrawn,
        "guardian_consent_granted" => Msg::EventGuardianConsent,
        "sensitive_consent_granted" => Msg::EventSensitiveConsent,
        _ => Msg::EventSessionEnd,
    };
    msg.text(lang)
}

/// The label of a severity id.
pub fn severity_label(severity: &str, lang: Lang) -> &'static str {
    let msg = match severity {
        "high" => Msg::SeverityHigh,
        "medium" => Msg::SeverityMedium,
        _ => Msg::SeverityLow,
    };
    msg.text(lang)
}

/// The label of an input file role.
pub fn role_label(role: &str, lang: Lang) -> &'static str {
    let msg = match role {
        "capture" => Msg::RoleCapture,
        "keylog" => Msg::RoleKeylog,
        "records" => Msg::RoleRecords,
        _ => Msg::RoleSession,
    };
    msg.text(lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_everywhere() {
        for lang in [Lang::Zh, Lang::En] {
            assert_eq!(Lang::from_id(lang.as_str()), Some(lang));
        }
        assert_eq!(Lang::default(), Lang::Zh);
        assert_eq!(Msg::Findings.text(Lang::Zh), "发现");
        assert_eq!(Msg::Findings.text(Lang::En), "Findings");
        assert_eq!(phase_label("after_denial", Lang::Zh), "拒绝后");
        assert_eq!(event_label("consent_granted", Lang::En), "consent granted");
        assert_eq!(severity_label("medium", Lang::Zh), "中");
        assert_eq!(role_label("keylog", Lang::En), "TLS key log");
    }
}
