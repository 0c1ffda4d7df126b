"""The words sample data is made of: Japanese and English people, companies, notes.

Japanese names carry their romanisation so e-mail addresses look like the ones people really have.
Companies carry a domain slug for the same reason.
"""

from __future__ import annotations

JAPANESE_FAMILY_NAMES = (
    ("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"), ("田中", "tanaka"),
    ("伊藤", "ito"), ("渡辺", "watanabe"), ("山本", "yamamoto"), ("中村", "nakamura"),
    ("小林", "kobayashi"), ("加藤", "kato"), ("吉田", "yoshida"), ("山田", "yamada"),
    ("佐々木", "sasaki"), ("山口", "yamaguchi"), ("松本", "matsumoto"), ("井上", "inoue"),
    ("木村", "kimura"), ("林", "hayashi"), ("清水", "shimizu"), ("森", "mori"),
)  # fmt: skip
JAPANESE_GIVEN_NAMES = (
    ("太郎", "taro"), ("花子", "hanako"), ("健", "ken"), ("美咲", "misaki"), ("翔", "sho"),
    ("陽菜", "hina"), ("大輔", "daisuke"), ("さくら", "sakura"), ("拓也", "takuya"), ("由美", "yumi"),
    ("誠", "makoto"), ("愛", "ai"), ("直樹", "naoki"), ("恵", "megumi"), ("亮", "ryo"), ("彩", "aya"),
)  # fmt: skip
ENGLISH_FIRST_NAMES = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Emma",
    "David", "Susan", "Oliver", "Sophia", "Liam", "Grace",
)  # fmt: skip
ENGLISH_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
    "Thomas", "Moore", "Martin", "Clark", "Lewis", "Walker",
)  # fmt: skip

# (name, domain slug); the designator goes in front or behind, as Japanese companies do.
JAPANESE_COMPANIES = (
    ("さくら商事", "sakura-shoji"), ("東都物産", "toto-bussan"), ("みらい技研", "mirai-giken"),
    ("青葉フーズ", "aoba-foods"), ("北斗システム", "hokuto-system"), ("ひかり製作所", "hikari-ss"),
    ("大和ロジスティクス", "yamato-logi"), ("富士テック", "fuji-tech"),
    ("瀬戸内水産", "setouchi-suisan"), ("コスモ建設", "cosmo-kensetsu"),
    ("ミドリ薬品", "midori-yakuhin"), ("アサヒ電機", "asahi-denki"),
)  # fmt: skip
JAPANESE_DESIGNATORS = (("株式会社", ""), ("", "株式会社"), ("有限会社", ""), ("合同会社", ""))
ENGLISH_COMPANIES = (
    ("Acme", "acme"), ("Globex", "globex"), ("Initech", "initech"), ("Blue Harbor", "blueharbor"),
    ("Northwind Traders", "northwind"), ("Summit Analytics", "summit-analytics"),
    ("Redwood Labs", "redwood"), ("Brightline Foods", "brightline"),
    ("Pioneer Freight", "pioneer-freight"), ("Silverleaf Health", "silverleaf"),
)  # fmt: skip
ENGLISH_DESIGNATORS = (" Inc.", " Ltd.", " LLC", " Co., Ltd.")
FREE_MAIL_DOMAINS = ("gmail.com", "yahoo.co.jp", "outlook.com", "icloud.com")

INDUSTRIES_JA = ("製造", "小売", "IT", "物流", "食品", "建設", "医療")
INDUSTRIES_EN = ("Manufacturing", "Retail", "Software", "Logistics", "Food", "Construction", "Healthcare")
REGIONS_JA = ("東京", "大阪", "名古屋", "福岡", "札幌", "仙台", "横浜")
REGIONS_EN = ("California", "New York", "Texas", "London", "Singapore", "Sydney", "Toronto")
US_AREA_CODES = ("212", "310", "415", "512", "617", "646", "206")
JAPANESE_PHONE_PREFIXES = ("090", "080", "070", "03", "06")  # each followed by eight digits

TAGS = ("newsletter", "trade-show", "referral", "web", "enterprise", "smb", "partner")

SALES_OWNERS = ("U0SALES1", "U0SALES2", "U0SALES3", "U0SALES4")
SUPPORT_AUTHORS = ("U0SUPPORT1", "U0SUPPORT2")

# kind -> (Japanese summaries, English summaries), the same number of each
SUMMARIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "call": (
        (
            "新製品の案内で電話。来週見積もりを送る",
            "定期フォローの電話。特に問題なし",
            "更新時期の確認。予算は来月決定",
        ),
        (
            "Called about the renewal; they want a quote by Friday",
            "Quarterly check-in call, all good",
            "Intro call with the new buyer",
        ),
    ),
    "meeting": (
        (
            "先方オフィスで製品デモ。反応は良好",
            "年間契約の打ち合わせ。値引きの相談あり",
            "展示会ブースで名刺交換",
        ),
        (
            "On-site demo; the team liked the dashboard",
            "Contract review meeting, asked for volume pricing",
            "Met at the trade show booth",
        ),
    ),
    "email": (
        (
            "見積書をメールで送付",
            "請求書の宛先変更の依頼を受けた",
            "キャンペーンの案内メールに返信あり",
        ),
        (
            "Sent the quote by e-mail",
            "They asked to change the billing address",
            "Replied to the spring offer",
        ),
    ),
    "support": (
        (
            "ログインできないとの問い合わせ。パスワード再設定で解決",
            "納品物の破損について連絡。交換品を手配",
            "請求金額の確認依頼。内訳を説明",
        ),
        (
            "Could not log in; fixed by a password reset",
            "Damaged delivery reported; replacement sent",
            "Asked about an invoice line; explained the charges",
        ),
    ),
    "note": (
        (
            "担当者が4月から異動予定",
            "競合他社も検討中とのこと",
            "決裁者は部長",
        ),
        (
            "Our contact moves to another team in April",
            "They are also talking to a competitor",
            "The decision maker is the head of purchasing",
        ),
    ),
}
KIND_WEIGHTS = {"call": 0.3, "meeting": 0.15, "email": 0.25, "support": 0.2, "note": 0.1}

FOLLOW_UP_NOTES = (
    ("見積もりの返答を確認する", "契約更新の意向を聞く", "サポート対応後の様子を伺う"),
    ("Check whether they accepted the quote", "Ask about the renewal", "Check in after the support case"),
)
