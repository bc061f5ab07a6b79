//! Static tables of PI types, PI categories and app categories.
//!
//! The ids are the stable contract of `pi-taxonomy.md`: session files,
//! signatures, records, metric labels and findings all use them. The tables
//! are `'static` and never change at run time; signature files may add PI
//! types of their own, which callers keep next to these (see
//! `crate::session::KnownIds`).

/// One built-in PI type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PiTypeInfo {
    /// Stable snake_case id (`imei`, `gps_location`, …).
    pub id: &'static str,
    /// Chinese name used in reports.
    pub name_zh: &'static str,
    /// English name used in reports.
    pub name_en: &'static str,
    /// Category id, one of [`CATEGORY_IDS`] (GB/T 35273-2020 Annex A).
    pub category: &'static str,
    /// Sensitive PI under PIPL Art. 28 by default; configurable by the caller
    /// because newer guidance (GB/T 45574-2025) narrows the list.
    pub sensitive: bool,
}

/// PI category ids after GB/T 35273-2020 Annex A (regulation-cn.md §2).
pub const CATEGORY_IDS: &[&str] = &[
    "basic",
    "identity",
    "biometric",
    "network_id",
    "health",
    "education_work",
    "property",
    "communication",
    "contacts",
    "online_history",
    "device",
    "location",
    "other",
];

const fn t(
    id: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    category: &'static str,
    sensitive: bool,
) -> PiTypeInfo {
    PiTypeInfo {
        id,
        name_zh,
        name_en,
        category,
        sensitive,
    }
}

/// The PI types of pi-taxonomy.md, in the order of its table.
///
/// Notes on individual rows: `wifi_ssid` is flagged sensitive because scan
/// lists reveal location (the taxonomy marks it "S (as part of scans)");
/// `uscc` is an organisation code, PI only for `92…` individual businesses,
/// so it sits in `other` and is not sensitive.
static BUILTIN_TYPES: [PiTypeInfo; 25] = [
    t(
        "phone_number",
        "手机号码",
        "mobile phone number",
        "basic",
        false,
    ),
    t(
        "id_card",
        "居民身份证号",
        "resident ID number",
        "identity",
        true,
    ),
    t(
        "passport",
        "护照/通行证号",
        "passport or permit number",
        "identity",
        true,
    ),
    t(
        "bank_card",
        "银行卡号",
        "bank card number",
        "property",
        true,
    ),
    t("email", "电子邮箱", "email address", "basic", false),
    t("name", "姓名", "name", "basic", false),
    t("imei", "IMEI", "IMEI", "device", false),
    t("meid", "MEID", "MEID", "device", false),
    t("imsi", "IMSI", "IMSI", "device", false),
    t("iccid", "ICCID", "ICCID", "device", false),
    t("android_id", "Android ID", "Android ID", "device", false),
    t("oaid", "OAID", "OAID", "device", false),
    t("idfa", "IDFA/IDFV", "IDFA/IDFV", "device", false),
    t(
        "serial_number",
        "设备序列号",
        "device serial number",
        "device",
        false,
    ),
    t("mac_address", "MAC地址", "MAC address", "device", false),
    t("wifi_ssid", "WiFi名称", "Wi-Fi SSID", "location", true),
    t("wifi_bssid", "WiFi BSSID", "Wi-Fi BSSID", "location", true),
    t("cell_id", "基站信息", "cell identity", "location", true),
    t(
        "gps_location",
        "精确位置",
        "precise location",
        "location",
        true,
    ),
    t(
        "installed_apps",
        "应用列表",
        "installed app list",
        "online_history",
        false,
    ),
    t("contacts", "通讯录", "contacts", "contacts", true),
    t(
        "license_plate",
        "车牌号",
        "vehicle licence plate",
        "basic",
        false,
    ),
    t(
        "uscc",
        "统一社会信用代码",
        "unified social credit code",
        "other",
        false,
    ),
    t("face_image", "人脸图像", "face image", "biometric", true),
    t(
        "clipboard",
        "剪贴板内容",
        "clipboard content",
        "communication",
        true,
    ),
];

/// All built-in PI types.
pub fn builtin_types() -> &'static [PiTypeInfo] {
    &BUILTIN_TYPES
}

/// Looks a built-in PI type up by id (exact, case-sensitive).
pub fn pi_type(id: &str) -> Option<&'static PiTypeInfo> {
    BUILTIN_TYPES.iter().find(|info| info.id == id)
}

/// One of the 39 app types of 《常见类型移动互联网应用程序必要个人信息范围规定》
/// (CAC/MIIT/MPS/SAMR 2021, Art. 5; regulation-cn.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppCategory {
    /// Stable snake_case id used as `app.category` in session files.
    pub id: &'static str,
    /// Number of the type in Art. 5 (1..=39).
    pub number: u8,
    /// Chinese name of the type.
    pub name_zh: &'static str,
    /// Necessary PI expressed as PI type ids, where the regulation's item maps
    /// onto one (phone → `phone_number`, name → `name`, ID number →
    /// `id_card`, bank card → `bank_card`, location/trajectory →
    /// `gps_location`, plate → `license_plate`). Empty for the 13 types that
    /// need no PI at all.
    pub necessary_pi: &'static [&'static str],
    /// The regulation's full list of necessary PI (paraphrase, English),
    /// including items with no PI type id (origin, CV, payment info …).
    pub necessary_text: &'static str,
}

impl AppCategory {
    /// True for the 13 types whose basic function needs no PI (∅ in
    /// pi-taxonomy.md): any PI leaving the device after refusal is a finding.
    pub fn needs_no_pi(&self) -> bool {
        self.necessary_pi.is_empty()
    }
}

const fn c(
    id: &'static str,
    number: u8,
    name_zh: &'static str,
    necessary_pi: &'static [&'static str],
    necessary_text: &'static str,
) -> AppCategory {
    AppCategory {
        id,
        number,
        name_zh,
        necessary_pi,
        necessary_text,
    }
}

const NONE: &[&str] = &[];
const PHONE: &[&str] = &["phone_number"];
const NONE_TEXT: &str = "none";

/// The 39 app types in the order of Art. 5. Rows 11–17, 19–20, 22–26 and 39
/// are marked "from memory (unverified)" in regulation-cn.md §4.
static APP_CATEGORIES: [AppCategory; 39] = [
    c(
        "map_navigation",
        1,
        "地图导航",
        &["gps_location"],
        "location, origin, destination",
    ),
    c(
        "ride_hailing",
        2,
        "网络约车",
        &["phone_number", "gps_location"],
        "phone; passenger origin, destination, location, trajectory; payment info",
    ),
    c(
        "instant_messaging",
        3,
        "即时通信",
        PHONE,
        "phone; account, IM contact list",
    ),
    c("online_community", 4, "网络社区", PHONE, "phone"),
    c(
        "online_payment",
        5,
        "网络支付",
        &["phone_number", "name", "id_card", "bank_card"],
        "phone; name, ID type/number/validity, bank-card number",
    ),
    c(
        "online_shopping",
        6,
        "网上购物",
        &["phone_number", "name"],
        "phone; consignee name, address, phone; payment time/amount/channel",
    ),
    c(
        "food_delivery",
        7,
        "餐饮外卖",
        &["phone_number", "name"],
        "phone; consignee name, address, phone; payment time/amount/channel",
    ),
    c(
        "express_delivery",
        8,
        "邮件快件寄递",
        &["phone_number", "name", "id_card"],
        "sender name, ID type/number, address, phone; recipient name, address, phone; \
         item name/nature/quantity",
    ),
    c(
        "transport_tickets",
        9,
        "交通票务",
        &["phone_number", "name", "id_card", "license_plate"],
        "phone; traveller name, ID type/number, traveller type; trip data, seat; \
         plate and colour (ETC); payment",
    ),
    c(
        "dating",
        10,
        "婚恋相亲",
        PHONE,
        "phone; gender, age, marital status",
    ),
    c("job_hunting", 11, "求职招聘", PHONE, "phone; CV"),
    c(
        "online_lending",
        12,
        "网络借贷",
        &["phone_number", "name", "id_card", "bank_card"],
        "phone; borrower name, ID type/number/validity, bank card",
    ),
    c(
        "housing",
        13,
        "房屋租售",
        PHONE,
        "phone; property address, size/layout, price/rent",
    ),
    c(
        "used_cars",
        14,
        "二手车交易",
        &["phone_number", "name", "id_card", "license_plate"],
        "phone; buyer/seller name and ID; vehicle licence number, VIN",
    ),
    c(
        "medical",
        15,
        "问诊挂号",
        &["phone_number", "name", "id_card"],
        "phone; patient name, ID type/number, hospital/department; symptom description",
    ),
    c(
        "travel",
        16,
        "旅游服务",
        &["phone_number", "name", "id_card"],
        "phone; destination, dates; traveller name, ID, contact",
    ),
    c(
        "hotels",
        17,
        "酒店服务",
        &["phone_number", "name"],
        "phone; guest name, contact, check-in/out dates, hotel",
    ),
    c("online_games", 18, "网络游戏", PHONE, "phone"),
    c("education", 19, "学习教育", PHONE, "phone"),
    c("local_life", 20, "本地生活", PHONE, "phone"),
    c("womens_health", 21, "女性健康", NONE, NONE_TEXT),
    c(
        "car_sharing",
        22,
        "用车服务",
        &["phone_number", "id_card", "gps_location"],
        "phone; ID and driving licence (car sharing/rental); payment; \
         location (bike sharing, time-share cars)",
    ),
    c(
        "investment",
        23,
        "投资理财",
        &["phone_number", "name", "id_card", "bank_card"],
        "phone; name, ID type/number/validity, ID copy; fund account/bank card",
    ),
    c(
        "mobile_banking",
        24,
        "手机银行",
        &["phone_number", "name", "id_card", "bank_card"],
        "phone; name, ID type/number/validity, ID copy, bank card, bank-reserved phone; \
         payee name/card/bank for transfers",
    ),
    c("email_cloud", 25, "邮箱云盘", PHONE, "phone"),
    c("remote_meetings", 26, "远程会议", PHONE, "phone"),
    c("live_streaming", 27, "网络直播", NONE, NONE_TEXT),
    c("online_av", 28, "在线影音", NONE, NONE_TEXT),
    c("short_video", 29, "短视频", NONE, NONE_TEXT),
    c("news", 30, "新闻资讯", NONE, NONE_TEXT),
    c("sports_fitness", 31, "运动健身", NONE, NONE_TEXT),
    c("browser", 32, "浏览器", NONE, NONE_TEXT),
    c("input_method", 33, "输入法", NONE, NONE_TEXT),
    c("security", 34, "安全管理", NONE, NONE_TEXT),
    c("ebooks", 35, "电子图书", NONE, NONE_TEXT),
    c("photo", 36, "拍摄美化", NONE, NONE_TEXT),
    c("app_store", 37, "应用商店", NONE, NONE_TEXT),
    c("utilities", 38, "实用工具", NONE, NONE_TEXT),
    c(
        "show_tickets",
        39,
        "演出票务",
        PHONE,
        "phone; session, seat; payment",
    ),
];

/// All 39 app categories in the order of Art. 5.
pub fn app_categories() -> &'static [AppCategory] {
    &APP_CATEGORIES
}

/// Looks an app category up by id (exact, case-sensitive).
pub fn app_category(id: &str) -> Option<&'static AppCategory> {
    APP_CATEGORIES.iter().find(|cat| cat.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pi_types_unique_and_categorised() {
        let types = builtin_types();
        assert_eq!(types.len(), 25);
        for (i, a) in types.iter().enumerate() {
            assert!(CATEGORY_IDS.contains(&a.category), "{}", a.id);
            for b in types.iter().skip(i + 1) {
                assert_ne!(a.id, b.id);
            }
        }
        let imei = pi_type("imei").map(|t| (t.category, t.sensitive));
        assert_eq!(imei, Some(("device", false)));
        assert_eq!(pi_type("id_card").map(|t| t.sensitive), Some(true));
        assert_eq!(pi_type("gps_location").map(|t| t.name_zh), Some("精确位置"));
        assert!(pi_type("IMEI").is_none());
        assert!(pi_type("unknown").is_none());
    }

    #[test]
    fn app_categories_follow_article_5() {
        let cats = app_categories();
        assert_eq!(cats.len(), 39);
        for (i, cat) in cats.iter().enumerate() {
            assert_eq!(usize::from(cat.number), i + 1, "{}", cat.id);
            for id in cat.necessary_pi {
                assert!(pi_type(id).is_some(), "{} lists unknown {}", cat.id, id);
            }
            assert_eq!(cat.needs_no_pi(), cat.necessary_text == NONE_TEXT);
        }
        let empty: Vec<u8> = cats
            .iter()
            .filter(|c| c.needs_no_pi())
            .map(|c| c.number)
            .collect();
        assert_eq!(empty, [21, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38]);
        // Location is necessary only for navigation, ride hailing, car sharing.
        let with_location: Vec<&str> = cats
            .iter()
            .filter(|c| c.necessary_pi.contains(&"gps_location"))
            .map(|c| c.id)
            .collect();
        assert_eq!(
            with_location,
            ["map_navigation", "ride_hailing", "car_sharing"]
        );
        // No app type lists a device identifier as necessary.
        for cat in cats {
            for id in cat.necessary_pi {
                assert_ne!(pi_type(id).map(|t| t.category), Some("device"));
            }
        }
        assert_eq!(app_category("news").map(|c| c.number), Some(30));
        assert!(app_category("newspaper").is_none());
    }
}
