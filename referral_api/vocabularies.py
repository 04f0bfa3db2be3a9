"""The controlled vocabularies of DESIGN.md: codes are API values, labels in id and en."""

from __future__ import annotations

from typing import NamedTuple


class Term(NamedTuple):
    code: str
    label_id: str
    label_en: str
    description_id: str
    description_en: str
    pillar: str | None = None


PILLARS = ("prevention", "protection", "prosecution", "rehabilitation")

SERVICE_TYPES: tuple[Term, ...] = (
    Term(
        "hotline_complaint",
        "Pengaduan / hotline",
        "Hotline and complaints",
        "Menerima pengaduan dan laporan kasus melalui telepon, pesan atau datang langsung.",
        "Receives complaints and case reports by phone, message or in person.",
        "protection",
    ),
    Term(
        "outreach_rescue",
        "Penjangkauan dan penyelamatan",
        "Outreach and rescue",
        "Menjangkau dan mengevakuasi korban dari tempat eksploitasi bersama aparat.",
        "Reaches and evacuates victims from the place of exploitation with the authorities.",
        "protection",
    ),
    Term(
        "crisis_intervention",
        "Intervensi krisis",
        "Crisis intervention",
        "Penanganan darurat dalam jam-jam pertama: keamanan, kebutuhan dasar, stabilisasi.",
        "Emergency response in the first hours: safety, basic needs, stabilisation.",
        "protection",
    ),
    Term(
        "case_management",
        "Manajemen kasus",
        "Case management",
        "Asesmen, rencana intervensi dan koordinasi rujukan oleh pekerja sosial.",
        "Assessment, intervention plan and referral coordination by a social worker.",
        "protection",
    ),
    Term(
        "temporary_shelter",
        "Rumah aman / penampungan sementara",
        "Temporary shelter",
        "Tempat tinggal sementara yang aman bagi korban (rumah aman, RPTC, shelter).",
        "Safe temporary accommodation for victims (safe house, RPTC, shelter).",
        "protection",
    ),
    Term(
        "medical_care",
        "Layanan kesehatan",
        "Medical care",
        "Pemeriksaan dan perawatan medis, termasuk kesehatan reproduksi.",
        "Medical examination and treatment, including reproductive health.",
        "protection",
    ),
    Term(
        "forensic_examination",
        "Visum et repertum",
        "Forensic examination",
        "Pemeriksaan forensik (visum) untuk keperluan pembuktian.",
        "Forensic medical examination (visum) for evidence.",
        "prosecution",
    ),
    Term(
        "psychological_counselling",
        "Konseling psikologis",
        "Psychological counselling",
        "Konseling dan terapi oleh psikolog.",
        "Counselling and therapy by a psychologist.",
        "rehabilitation",
    ),
    Term(
        "psychosocial_support",
        "Dukungan psikososial",
        "Psychosocial support",
        "Pendampingan psikososial dan pemulihan trauma berbasis komunitas.",
        "Psychosocial accompaniment and community-based trauma recovery.",
        "rehabilitation",
    ),
    Term(
        "social_rehabilitation",
        "Rehabilitasi sosial",
        "Social rehabilitation",
        "Pemulihan fungsi sosial korban dalam balai, sentra atau RPTC.",
        "Restoring the victim's social functioning in a balai, sentra or RPTC.",
        "rehabilitation",
    ),
    Term(
        "spiritual_guidance",
        "Bimbingan rohani",
        "Spiritual guidance",
        "Bimbingan mental dan rohani sesuai keyakinan korban.",
        "Spiritual and moral guidance according to the victim's faith.",
        "rehabilitation",
    ),
    Term(
        "legal_aid",
        "Bantuan hukum",
        "Legal aid",
        "Konsultasi dan pendampingan hukum dalam proses pidana maupun perdata.",
        "Legal advice and representation in criminal and civil proceedings.",
        "prosecution",
    ),
    Term(
        "law_enforcement_report",
        "Laporan polisi",
        "Police report",
        "Menerima laporan polisi dan menyidik tindak pidana perdagangan orang.",
        "Takes police reports and investigates trafficking offences.",
        "prosecution",
    ),
    Term(
        "witness_protection",
        "Perlindungan saksi dan korban",
        "Witness protection",
        "Perlindungan fisik dan hukum bagi saksi dan korban (LPSK).",
        "Physical and legal protection of witnesses and victims (LPSK).",
        "prosecution",
    ),
    Term(
        "restitution",
        "Restitusi",
        "Restitution",
        "Penghitungan dan pengajuan restitusi bagi korban.",
        "Assessing and claiming restitution for the victim.",
        "prosecution",
    ),
    Term(
        "mediation",
        "Mediasi",
        "Mediation",
        "Mediasi dengan keluarga, pemberi kerja atau agen penempatan.",
        "Mediation with the family, employer or placement agency.",
        "protection",
    ),
    Term(
        "repatriation",
        "Pemulangan",
        "Repatriation",
        "Pemulangan korban ke daerah atau negara asal.",
        "Return of the victim to their home region or country.",
        "protection",
    ),
    Term(
        "consular_assistance",
        "Bantuan konsuler",
        "Consular assistance",
        "Perlindungan WNI di luar negeri oleh perwakilan RI.",
        "Protection of Indonesian citizens abroad by Indonesian missions.",
        "protection",
    ),
    Term(
        "identity_documents",
        "Dokumen kependudukan",
        "Identity documents",
        "Pengurusan dokumen identitas dan perjalanan (KTP, akta, SPLP, paspor).",
        "Identity and travel documents (ID card, birth certificate, SPLP, passport).",
        "protection",
    ),
    Term(
        "family_tracing",
        "Penelusuran keluarga",
        "Family tracing",
        "Menelusuri dan menghubungi keluarga korban.",
        "Tracing and contacting the victim's family.",
        "rehabilitation",
    ),
    Term(
        "reintegration",
        "Reintegrasi sosial",
        "Reintegration",
        "Mendampingi korban kembali ke keluarga dan masyarakat.",
        "Supporting the victim's return to family and community.",
        "rehabilitation",
    ),
    Term(
        "economic_empowerment",
        "Pemberdayaan ekonomi",
        "Economic empowerment",
        "Pelatihan kerja, modal usaha dan akses pekerjaan layak.",
        "Vocational training, start-up support and access to decent work.",
        "rehabilitation",
    ),
    Term(
        "education_life_skills",
        "Pendidikan dan kecakapan hidup",
        "Education and life skills",
        "Kembali bersekolah, kejar paket dan pelatihan kecakapan hidup.",
        "Return to school, equivalency education and life-skills training.",
        "rehabilitation",
    ),
    Term(
        "interpretation",
        "Juru bahasa",
        "Interpretation",
        "Penerjemah dan juru bahasa, termasuk bahasa isyarat dan bahasa daerah.",
        "Interpreters, including sign and regional languages.",
        "protection",
    ),
    Term(
        "prevention_awareness",
        "Pencegahan dan sosialisasi",
        "Prevention and awareness",
        "Sosialisasi migrasi aman dan pencegahan TPPO di masyarakat.",
        "Safe-migration and anti-trafficking awareness in communities.",
        "prevention",
    ),
)

ORGANIZATION_TYPES: tuple[Term, ...] = (
    Term(
        "ngo",
        "Lembaga swadaya masyarakat",
        "Non-governmental organisation",
        "Organisasi masyarakat sipil yang mendampingi korban.",
        "Civil-society organisation supporting victims.",
    ),
    Term(
        "law_enforcement",
        "Penegak hukum",
        "Law enforcement",
        "Kepolisian, termasuk Unit PPA.",
        "Police, including child and women's units (PPA).",
    ),
    Term("prosecution", "Kejaksaan", "Prosecution", "Kejaksaan.", "Public prosecution."),
    Term(
        "health_service",
        "Layanan kesehatan",
        "Health service",
        "Rumah sakit, PPT/PKT dan puskesmas.",
        "Hospitals, integrated crisis centres, clinics.",
    ),
    Term(
        "central_government",
        "Pemerintah pusat",
        "Central government",
        "Kementerian dan lembaga pusat.",
        "Ministries and national agencies.",
    ),
    Term(
        "local_government",
        "Pemerintah daerah",
        "Local government",
        "Dinas provinsi dan kabupaten/kota.",
        "Provincial and regency/city offices.",
    ),
    Term(
        "uptd_ppa",
        "UPTD PPA / P2TP2A",
        "UPTD PPA / P2TP2A",
        "Unit pelaksana teknis daerah perlindungan perempuan dan anak.",
        "Regional technical unit for the protection of women and children.",
    ),
    Term(
        "social_rehabilitation",
        "Rehabilitasi sosial",
        "Social rehabilitation",
        "RPTC, sentra dan balai rehabilitasi sosial.",
        "Trauma centres (RPTC), sentra and social rehabilitation homes.",
    ),
    Term(
        "shelter",
        "Rumah aman",
        "Shelter",
        "Rumah aman dan penampungan.",
        "Safe houses and shelters.",
    ),
    Term(
        "legal_service",
        "Layanan hukum",
        "Legal service",
        "LBH dan advokat.",
        "Legal aid institutes and advocates.",
    ),
    Term(
        "witness_protection",
        "Perlindungan saksi dan korban",
        "Witness protection",
        "LPSK.",
        "Witness and Victim Protection Agency (LPSK).",
    ),
    Term(
        "immigration_service",
        "Imigrasi",
        "Immigration service",
        "Kantor imigrasi.",
        "Immigration offices.",
    ),
    Term(
        "migrant_worker_protection",
        "Pelindungan pekerja migran",
        "Migrant worker protection",
        "KP2MI dan BP3MI.",
        "Ministry and regional offices for migrant worker protection.",
    ),
    Term(
        "consular_service",
        "Perwakilan RI",
        "Consular service",
        "KBRI dan KJRI.",
        "Indonesian embassies and consulates.",
    ),
    Term(
        "international_organization",
        "Organisasi internasional",
        "International organisation",
        "Misalnya IOM.",
        "For example IOM.",
    ),
    Term("hotline", "Layanan hotline", "Hotline", "Saluran pengaduan.", "Complaint lines."),
    Term(
        "community",
        "Komunitas",
        "Community",
        "Kelompok masyarakat, PATBM, tokoh agama.",
        "Community groups, child-protection groups, faith leaders.",
    ),
)

SERVICE_TYPE_CODES = frozenset(t.code for t in SERVICE_TYPES)
ORGANIZATION_TYPE_CODES = frozenset(t.code for t in ORGANIZATION_TYPES)

ORGANIZATION_LEVELS = ("national", "provincial", "regency", "international")
ORGANIZATION_STATUSES = ("active", "inactive")
SERVICE_STATUSES = ("active", "inactive", "temporarily_closed")
LOCATION_STATUSES = ("active", "inactive")
GENDERS = ("female", "male", "transgender_nonconforming", "unknown")
REGION_LEVELS = ("country", "province", "regency", "district")
NATIONAL = "ID"

# -- referrals ------------------------------------------------------------------------------
REFERRAL_KINDS = ("referral", "transfer")
RISK_LEVELS = ("high", "medium", "low")
WORKER_ROLES = (
    "broker",
    "mediator",
    "facilitator",
    "advocate",
    "protector",
    "motivator",
    "educator",
    "companion",
)
CONSENT_BASES = ("informed_consent", "guardian_consent", "legal_obligation", "vital_interest")
# Bases that stand in for the client's own consent when the client is a child (UU PDP Pasal 25).
CHILD_CONSENT_BASES = ("guardian_consent", "legal_obligation", "vital_interest")
CONSENT_METHODS = ("written", "verbal", "recorded")
EXPLOITATION_TYPES = (
    "sexual",
    "labour",
    "domestic_servitude",
    "forced_criminality",
    "forced_begging",
    "forced_marriage",
    "organ_removal",
    "online_scam_compound",
    "other",
)
STATUS_REASONS = (
    "no_capacity",
    "not_eligible",
    "out_of_area",
    "client_unreachable",
    "client_declined",
    "duplicate",
    "other",
)
# Service types whose service must start within REFERRAL_API_START_DAYS (UU 21/2007).
START_DEADLINE_TYPES = ("social_rehabilitation", "repatriation", "reintegration")
# Why the case's owner cancelled open referrals on the client's behalf (set by the
# service, never by a transition request).
CONSENT_WITHDRAWN = "consent_withdrawn"
CASE_CLOSED = "case_closed"
# How a case ended (POST /cases/{id}/close); `other` needs a note.
CASE_OUTCOMES = (
    "services_completed",
    "client_declined",
    "client_unreachable",
    "referred_outside_network",
    "client_deceased",
    "other",
)
