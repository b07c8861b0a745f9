"""Seeded generator of leads shaped like the platform's CRM lead-scoring export.

The labels come from a known probability model, so the Bayes-optimal score of every lead is known:
`p_true` depends only on columns the export contains (before dirt is added), which makes
ROC-AUC(`p_true`) on a split the ceiling that no model trained on the export can beat.

The model is non-linear on purpose: interaction counts act through saturating curves, the payment
group interacts with the platform, the career group with the traffic source, assistance with
syllabus interest, and there is mild daily, weekly and yearly seasonality.

Two seeds play different roles. The *world* seed fixes everything a lead is drawn from (city,
source and medium levels, their effects, event base rates), so a later incoming batch lives in
the same world as the training data. The *sample* seed draws the leads themselves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

ID = "lead_id"
TIMESTAMP = "created_at"
TARGET = "app_complete_flag"
CATEGORICAL = ["city", "platform", "utm_source", "utm_medium"]
OTHER_NUMERIC = ["total_leads_dropped", "referred_lead"]

INTERACTION_GROUPS: dict[str, list[str]] = {
    "assistance": [
        "chat_clicks",
        "whatsapp_chat_clicks",
        "callback_requests",
        "counsellor_call_clicks",
        "faq_views",
        "help_center_views",
        "live_session_joins",
        "email_query_clicks",
        "demo_class_bookings",
    ],
    "career": [
        "career_assistance_views",
        "placement_report_downloads",
        "alumni_story_views",
        "salary_report_downloads",
        "job_guarantee_clicks",
        "mentor_profile_views",
        "career_webinar_registrations",
        "resume_review_clicks",
        "hiring_partner_views",
    ],
    "payment": [
        "emi_option_clicks",
        "fee_structure_views",
        "scholarship_test_clicks",
        "loan_partner_clicks",
        "payment_page_visits",
        "discount_coupon_clicks",
        "refund_policy_views",
        "fee_calculator_uses",
        "installment_plan_views",
        "pricing_page_views",
    ],
    "syllabus": [
        "syllabus_downloads",
        "brochure_downloads",
        "curriculum_views",
        "course_page_views",
        "sample_video_views",
        "faculty_profile_views",
        "project_list_views",
        "specialisation_compare_clicks",
        "free_lesson_starts",
        "tools_covered_views",
    ],
}
INTERACTIONS = [event for events in INTERACTION_GROUPS.values() for event in events]
COUNT_COLUMNS = ["total_leads_dropped", *INTERACTIONS]

PLATFORMS = ["web", "android", "ios", "mobile web", "tablet app", "desktop app"]
_PLATFORM_MIX = np.array([0.38, 0.30, 0.12, 0.16, 0.02, 0.02])
_MOBILE_HEAVY_MIX = np.array([0.12, 0.46, 0.16, 0.22, 0.02, 0.02])
_PLATFORM_EFFECT = np.array([0.25, -0.05, 0.20, -0.35, 0.0, 0.3])
_PLATFORM_ENGAGEMENT = np.array([1.2, 0.9, 1.0, 0.7, 1.0, 1.3])

_BIG_CITIES = [
    "Mumbai", "Delhi", "Bangalore", "Hyderabad", "Chennai", "Pune", "Kolkata", "Ahmedabad",
    "Gurgaon", "Noida", "Jaipur", "Lucknow", "Chandigarh", "Indore", "Kochi", "Coimbatore",
    "Nagpur", "Bhopal", "Vadodara", "Surat", "Patna", "Bhubaneswar", "Visakhapatnam", "Mysore",
    "Thiruvananthapuram", "Guwahati", "Dehradun", "Ludhiana", "Kanpur", "Nashik", "Ranchi",
    "Raipur", "Madurai", "Vijayawada", "Mangalore", "Jodhpur", "Agra", "Varanasi", "Amritsar",
    "Goa",
]  # fmt: skip
_TOWN_STEMS = [
    "Ram", "Shiv", "Krishna", "Chandra", "Raj", "Dev", "Hari", "Sita", "Gopal", "Anand",
    "Lakshmi", "Durga", "Vishnu", "Surya", "Indra", "Kamal", "Moti", "Hira", "Sundar", "Bhim",
]  # fmt: skip
_TOWN_ENDINGS = ["pur", "nagar", "abad", "garh", "ganj", "kot", "wadi", "pet", "halli", "giri",
                 "puram", "gaon", "palli", "khed"]  # fmt: skip
N_CITIES = 320
CITY_ALIASES = {
    "Bangalore": "Bengaluru",
    "Mumbai": "Bombay",
    "Gurgaon": "Gurugram",
    "Kolkata": "Calcutta",
    "Chennai": "Madras",
    "Vadodara": "Baroda",
    "Mysore": "Mysuru",
    "Thiruvananthapuram": "Trivandrum",
}

_NAMED_SOURCES = {  # level: (effect on the log-odds, engagement multiplier, organic)
    "google": (0.10, 1.0, False),
    "facebook": (-0.45, 0.8, False),
    "instagram": (-0.55, 0.7, False),
    "direct": (0.35, 1.2, True),
    "organic_search": (0.45, 1.2, True),
    "youtube": (-0.20, 0.9, False),
    "linkedin": (0.40, 1.1, True),
    "referral": (0.80, 1.3, True),
    "email": (0.25, 1.1, False),
    "whatsapp": (-0.10, 0.9, False),
    "quora": (0.05, 1.0, False),
    "bing": (0.15, 1.0, False),
    "twitter": (-0.30, 0.8, False),
    "telegram": (-0.40, 0.8, False),
    "affiliate_network": (-0.70, 0.6, False),
}
N_SOURCES = 48
_REFERRAL = list(_NAMED_SOURCES).index("referral")
_NAMED_MEDIA = [
    "cpc", "organic", "social", "email", "display", "video", "referral", "affiliate", "push",
    "sms", "paid_social", "retargeting", "webinar", "influencer", "podcast", "banner", "native",
]  # fmt: skip
N_MEDIA = 36
N_NEW_SOURCES = 5

# Saturation scales of the four interaction groups (counts at which ~63% of the effect is reached)
# and their full weights on the log-odds.
_GROUP_SCALE = {"assistance": 2.0, "career": 3.0, "payment": 2.0, "syllabus": 3.0}
_GROUP_WEIGHT = {"assistance": 0.8, "career": 1.0, "payment": 1.6, "syllabus": 1.2}


@dataclass(frozen=True)
class Dirt:
    """Rates of the CRM export's data-quality problems (each a share of rows)."""

    missing_source: float = 0.03
    city_variants: float = 0.05
    duplicate_rows: float = 0.005
    negative_counts: float = 0.002
    placeholders: float = 0.02


@dataclass(frozen=True)
class Drift:
    """How an incoming batch departs from the training world; all zero means no drift."""

    new_sources: float = 0.0  # share of leads from source levels the training data never had
    platform_shift: float = 0.0  # 0..1: moves the platform mix toward the mobile apps
    count_inflation: float = 0.0  # relative inflation of interaction rates (0.5 = +50%)
    genuine_rate_shift: float = 0.0  # added to the genuine rate (a prior shift)

    def scaled(self, factor: float) -> Drift:
        """The same drift, `factor` of the way there (0 = none, 1 = all of it)."""
        return Drift(**{k: v * factor for k, v in asdict(self).items()})


@dataclass(frozen=True)
class World:
    """Everything leads are drawn from; fixed by the world seed."""

    cities: np.ndarray
    city_probs: np.ndarray
    city_effect: np.ndarray
    sources: np.ndarray
    source_probs: np.ndarray
    source_effect: np.ndarray
    source_engagement: np.ndarray
    source_organic: np.ndarray
    media: np.ndarray
    media_probs: np.ndarray
    media_effect: np.ndarray
    event_rates: np.ndarray
    new_source_effect: np.ndarray
    intercept: float


def _zipf(n: int, exponent: float) -> np.ndarray:
    weights = np.arange(1, n + 1, dtype=float) ** -exponent
    return weights / weights.sum()


def _town_names(n: int) -> list[str]:
    names = [stem + ending for ending in _TOWN_ENDINGS for stem in _TOWN_STEMS]
    return names[:n]


def build_world(seed: int, genuine_rate: float) -> World:
    """Draw the fixed world of a dataset and calibrate the intercept to `genuine_rate`."""
    if not 0.0 < genuine_rate < 1.0:
        raise ValueError(f"genuine_rate must be in (0, 1), got {genuine_rate}")
    rng = np.random.default_rng([seed, 0])
    cities = np.array(_BIG_CITIES + _town_names(N_CITIES - len(_BIG_CITIES)), dtype=object)
    city_effect = np.concatenate(
        [
            rng.normal(0.0, 0.25, len(_BIG_CITIES)),
            rng.normal(-0.1, 0.35, N_CITIES - len(_BIG_CITIES)),
        ]
    )
    n_tail = N_SOURCES - len(_NAMED_SOURCES)
    named = list(_NAMED_SOURCES.values())
    sources = np.array(
        [*_NAMED_SOURCES, *(f"partner_{i:02d}" for i in range(1, n_tail + 1))], dtype=object
    )
    source_effect = np.concatenate([[e for e, _, _ in named], rng.normal(-0.2, 0.5, n_tail)])
    source_engagement = np.concatenate([[m for _, m, _ in named], rng.uniform(0.6, 1.2, n_tail)])
    source_organic = np.concatenate([[o for _, _, o in named], np.zeros(n_tail, dtype=bool)])
    n_media_tail = N_MEDIA - len(_NAMED_MEDIA)
    media = np.array(
        [*_NAMED_MEDIA, *(f"campaign_{i:02d}" for i in range(1, n_media_tail + 1))], dtype=object
    )
    world = World(
        cities=cities,
        city_probs=_zipf(N_CITIES, 1.45),
        city_effect=city_effect,
        sources=sources,
        source_probs=_zipf(N_SOURCES, 1.1),
        source_effect=source_effect,
        source_engagement=source_engagement,
        source_organic=source_organic,
        media=media,
        media_probs=_zipf(N_MEDIA, 1.2),
        media_effect=rng.normal(0.0, 0.3, N_MEDIA),
        event_rates=rng.uniform(0.05, 1.2, len(INTERACTIONS)),
        new_source_effect=rng.normal(-0.3, 0.5, N_NEW_SOURCES),
        intercept=0.0,
    )
    reference = _sample_leads(
        world, 60_000, start=pd.Timestamp("2000-01-01"), days=365, seed=[seed, 1], drift=Drift()
    )
    logit = _logit_without_intercept(world, reference)
    return World(**{**world.__dict__, "intercept": _calibrate_intercept(logit, genuine_rate)})


def _calibrate_intercept(logit: np.ndarray, rate: float) -> float:
    """Intercept that makes the mean probability equal `rate` (bisection; the mean is monotone)."""
    low, high = -20.0, 20.0
    for _ in range(80):
        mid = (low + high) / 2
        if _sigmoid(logit + mid).mean() < rate:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _saturate(x: np.ndarray, scale: float) -> np.ndarray:
    return 1.0 - np.exp(-np.asarray(x, dtype=float) / scale)


def _sample_leads(
    world: World, n: int, *, start: pd.Timestamp, days: int, seed: list[int], drift: Drift
) -> dict[str, np.ndarray]:
    """Draw clean observable columns (as index arrays for the categoricals)."""
    rng = np.random.default_rng(seed)
    seconds = rng.uniform(0, days * 86_400, n)
    hour_weights = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 4, 4.5, 5, 5, 5, 5, 5, 5.5, 6,
                             7, 8, 8, 7, 4.5, 2])  # fmt: skip
    hours = rng.choice(24, n, p=hour_weights / hour_weights.sum())
    created = start + pd.to_timedelta((seconds // 86_400) * 86_400 + hours * 3600
                                      + rng.uniform(0, 3600, n).astype(int), unit="s")  # fmt: skip
    created = np.sort(created.to_numpy())

    platform_mix = (
        1 - drift.platform_shift
    ) * _PLATFORM_MIX + drift.platform_shift * _MOBILE_HEAVY_MIX
    platform = rng.choice(len(PLATFORMS), n, p=platform_mix)
    city = rng.choice(N_CITIES, n, p=world.city_probs)
    source = rng.choice(N_SOURCES, n, p=world.source_probs)
    new_source = rng.random(n) < drift.new_sources
    source = np.where(new_source, N_SOURCES + rng.integers(0, N_NEW_SOURCES, n), source)
    medium = rng.choice(N_MEDIA, n, p=world.media_probs)

    engagement_by_source = np.append(world.source_engagement, np.full(N_NEW_SOURCES, 0.8))
    engagement = (
        rng.gamma(0.8, 1.0, n) * _PLATFORM_ENGAGEMENT[platform] * engagement_by_source[source]
    )
    interest = rng.gamma(1.0, 1.0, (n, len(INTERACTION_GROUPS)))
    group_of_event = np.repeat(
        np.arange(len(INTERACTION_GROUPS)), [len(e) for e in INTERACTION_GROUPS.values()]
    )
    rates = (
        engagement[:, None]
        * interest[:, group_of_event]
        * world.event_rates[None, :]
        * (1.0 + drift.count_inflation)
    )
    counts = rng.poisson(rates)
    organic = np.append(world.source_organic, np.zeros(N_NEW_SOURCES, dtype=bool))
    return {
        "created_at": created,
        "platform": platform,
        "city": city,
        "source": source,
        "medium": medium,
        "counts": counts,
        "total_leads_dropped": rng.poisson(0.25 + 0.6 * (1 - _saturate(engagement, 1.0))),
        "referred_lead": (rng.random(n) < np.where(source == _REFERRAL, 0.55, 0.05)).astype(int),
        "organic": organic[source],
    }


def _logit_without_intercept(world: World, leads: dict[str, np.ndarray]) -> np.ndarray:
    counts = leads["counts"]
    sat = {}
    offset = 0
    for group, events in INTERACTION_GROUPS.items():
        total = counts[:, offset : offset + len(events)].sum(axis=1)
        sat[group] = _saturate(total, _GROUP_SCALE[group])
        offset += len(events)
    platform = leads["platform"]
    source_effect = np.append(world.source_effect, world.new_source_effect)
    created = pd.DatetimeIndex(leads["created_at"])
    hour = created.hour.to_numpy()
    weekend = created.day_of_week.to_numpy() >= 5
    day_of_year = created.day_of_year.to_numpy()

    z = (
        source_effect[leads["source"]]
        + world.media_effect[leads["medium"]]
        + world.city_effect[leads["city"]]
        + _PLATFORM_EFFECT[platform]
        + sum(_GROUP_WEIGHT[g] * sat[g] for g in INTERACTION_GROUPS)
        + 0.8 * sat["payment"] * (platform == PLATFORMS.index("web"))
        - 0.6 * sat["payment"] * (platform == PLATFORMS.index("mobile web"))
        + 0.7 * sat["career"] * leads["organic"]
        + 1.0 * sat["assistance"] * sat["syllabus"]
        + 0.9 * leads["referred_lead"]
        - 0.8 * _saturate(leads["total_leads_dropped"], 2.0)
        - 0.5 * (hour < 6)
        + 0.15 * ((hour >= 9) & (hour < 19))
        - 0.2 * weekend
        + 0.15 * np.sin(2 * np.pi * day_of_year / 365.25)
    )
    return z


def _logit_shift(rate: float, shift: float) -> float:
    if shift == 0.0:
        return 0.0
    shifted = rate + shift
    if not 0.0 < shifted < 1.0:
        raise ValueError(f"genuine_rate + genuine_rate_shift must be in (0, 1), got {shifted}")
    return float(np.log(shifted / (1 - shifted)) - np.log(rate / (1 - rate)))


def _export_frame(world: World, leads: dict[str, np.ndarray], id_offset: int) -> pd.DataFrame:
    n = len(leads["platform"])
    new_sources = np.array([f"new_campaign_{i}" for i in range(1, N_NEW_SOURCES + 1)], dtype=object)
    columns = {
        ID: [f"LD{i:08d}" for i in range(id_offset + 1, id_offset + n + 1)],
        TIMESTAMP: pd.DatetimeIndex(leads["created_at"]).strftime("%Y-%m-%d %H:%M:%S"),
        "city": world.cities[leads["city"]],
        "platform": np.array(PLATFORMS, dtype=object)[leads["platform"]],
        "utm_source": np.append(world.sources, new_sources)[leads["source"]],
        "utm_medium": world.media[leads["medium"]],
        "total_leads_dropped": leads["total_leads_dropped"],
        "referred_lead": leads["referred_lead"],
    }
    columns.update(zip(INTERACTIONS, leads["counts"].T, strict=True))
    return pd.DataFrame(columns)


def add_dirt(export: pd.DataFrame, dirt: Dirt, seed: list[int]) -> pd.DataFrame:
    """Add the CRM export's typical problems at the given rates (returns a new frame)."""
    rng = np.random.default_rng(seed)
    df = export.copy()
    n = len(df)
    for column in ("utm_source", "utm_medium"):
        df.loc[rng.random(n) < dirt.missing_source, column] = None
    for column in ("city", "utm_medium"):
        df.loc[rng.random(n) < dirt.placeholders, column] = "Select"

    variant_rows = np.flatnonzero((rng.random(n) < dirt.city_variants) & df["city"].ne("Select"))
    kinds = rng.integers(0, 4, len(variant_rows))
    cities = df["city"].to_numpy(dtype=object)
    for row, kind in zip(variant_rows, kinds, strict=True):
        city = cities[row]
        if kind == 0:
            cities[row] = city.upper()
        elif kind == 1:
            cities[row] = city.lower()
        elif kind == 2:
            cities[row] = f"  {city} "
        else:
            cities[row] = CITY_ALIASES.get(city, city.lower())
    df["city"] = cities

    negative_rows = np.flatnonzero(rng.random(n) < dirt.negative_counts)
    negative_cols = rng.integers(0, len(COUNT_COLUMNS), len(negative_rows))
    values = {c: df[c].to_numpy(copy=True) for c in COUNT_COLUMNS}
    for row, col in zip(negative_rows, negative_cols, strict=True):
        values[COUNT_COLUMNS[col]][row] = -int(rng.integers(1, 6))
    for column, column_values in values.items():
        df[column] = column_values

    repeated = np.flatnonzero(rng.random(n) < dirt.duplicate_rows)
    order = np.sort(np.concatenate([np.arange(n), repeated]), kind="stable")
    return df.iloc[order].reset_index(drop=True)


def generate_leads(
    n_leads: int,
    *,
    start: str,
    days: int,
    genuine_rate: float,
    world_seed: int,
    sample_seed: int,
    dirt: Dirt,
    drift: Drift | None = None,
    id_offset: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (export, truth): the CRM-like export with its target and dirt, and `p_true` per id.

    The export's rows are in creation order; `truth` has one row per lead id.
    """
    if n_leads < 1 or days < 1:
        raise ValueError(f"n_leads and days must be >= 1, got {n_leads} and {days}")
    drift = drift or Drift()
    world = build_world(world_seed, genuine_rate)
    leads = _sample_leads(
        world, n_leads, start=pd.Timestamp(start), days=days, seed=[sample_seed, 2], drift=drift
    )
    shift = _logit_shift(genuine_rate, drift.genuine_rate_shift)
    p_true = _sigmoid(_logit_without_intercept(world, leads) + world.intercept + shift)
    label = (np.random.default_rng([sample_seed, 3]).random(n_leads) < p_true).astype(int)

    clean = _export_frame(world, leads, id_offset)
    truth = pd.DataFrame({ID: clean[ID], "p_true": p_true, TARGET: label})
    export = add_dirt(clean.assign(**{TARGET: label}), dirt, [sample_seed, 4])
    return export, truth


@dataclass(frozen=True)
class Batch:
    name: str  # the month it covers, YYYY-MM
    export: pd.DataFrame  # unlabelled, with the CRM dirt
    truth: pd.DataFrame  # lead id, p_true and the label, which in real life arrive later


def monthly_batches(
    n_batches: int,
    leads_per_batch: int,
    *,
    after: str,
    genuine_rate: float,
    world_seed: int,
    sample_seed: int,
    dirt: Dirt,
    drift: Drift,
    id_offset: int,
) -> list[Batch]:
    """Unlabelled batches of leads, one per calendar month from the first month starting at or
    after `after`, with drift ramping linearly to `drift` at the last batch (batch i of n gets
    i/n of it), as campaigns and platforms change gradually. Batch i is drawn with seed
    `sample_seed + i`, so adding a batch leaves the earlier ones unchanged.
    """
    first = pd.Timestamp(after).to_period("M")
    if pd.Timestamp(after) > first.start_time:
        first += 1
    batches = []
    for i in range(n_batches):
        month = first + i
        export, truth = generate_leads(
            leads_per_batch,
            start=str(month.start_time),
            days=month.days_in_month,
            genuine_rate=genuine_rate,
            world_seed=world_seed,
            sample_seed=sample_seed + i,
            dirt=dirt,
            drift=drift.scaled((i + 1) / n_batches),
            id_offset=id_offset + i * leads_per_batch,
        )
        batches.append(Batch(str(month), export.drop(columns=TARGET), truth))
    return batches
