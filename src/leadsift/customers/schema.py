"""Column roles of a transaction export, read from config.yaml `transactions:`, and its contract.

Nothing downstream names a column of the embedded export; everything asks the roles, so a shop's
own export works by editing config.yaml. A line needs a customer (blank: a guest purchase, counted
but not segmented), a time, a quantity, and either a unit price or a line amount; the invoice,
product, description and country are optional. A cancellation is an invoice starting with
`cancellation_prefix` (UCI Online Retail's `C`), or, without invoices, a negative quantity.
Lines equal in every column are an export's repeats or several purchases (`identical_lines`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from leadsift.core.contract import COLUMN, Rule, each_column, finite, parse_numbers, rule
from leadsift.core.io import InputError, read_table
from leadsift.customers.param_rules import IDENTICAL_LINES, MARKET_ROLES

MARKET_TEXT = ("producer", "affiliate", "niche", "category", "product_created", "device", "origin")

ROLE_KEYS = (
    "customer_id",
    "timestamp",
    "quantity",
    "unit_price",
    "amount",
    "invoice",
    "product",
    "description",
    "country",
    *MARKET_ROLES,
)


@dataclass(frozen=True)
class TransactionRoles:
    customer_id: str
    timestamp: str
    quantity: str | None = None  # null: every line is one unit
    unit_price: str | None = None
    amount: str | None = None
    invoice: str | None = None
    product: str | None = None
    description: str | None = None
    country: str | None = None
    producer: str | None = None  # blank affiliate, or the producer's own id: a direct sale
    affiliate: str | None = None
    commission: str | None = None  # percent of the price the affiliate earns
    niche: str | None = None
    category: str | None = None
    product_created: str | None = None
    device: str | None = None
    origin: str | None = None
    social_origin: str | None = None  # 1/0 or true/false: the sale came from a social network
    timestamp_format: str | None = None  # e.g. "%Y%m%d"; null: ISO-like text, parsed
    cancellation_prefix: str | None = None  # invoices starting with it cancel; null: negative lines
    identical_lines: str = "auto"  # keep | drop | auto (see `drops_identical_lines`)
    value_standardised: bool = False  # the price or amount column holds z-scores

    @classmethod
    def from_params(cls, data: dict[str, Any]) -> TransactionRoles:
        """Build roles from the `transactions:` section, rejecting inconsistent declarations."""
        for key in ("customer_id", "timestamp"):
            if not data.get(key):
                raise InputError(f"config.yaml: `transactions.{key}` is required")
        if bool(data.get("unit_price")) == bool(data.get("amount")):
            raise InputError(
                "config.yaml: set exactly one of `transactions.unit_price` (then a line is worth "
                "quantity x unit price) and `transactions.amount` (a line's total)"
            )
        if data.get("cancellation_prefix") and not data.get("invoice"):
            raise InputError(
                "config.yaml: `transactions.cancellation_prefix` needs `transactions.invoice`; "
                "set it to null to treat negative quantities as cancellations"
            )
        identical = data.get("identical_lines") or "auto"
        if identical not in IDENTICAL_LINES:
            raise InputError(
                f"config.yaml: `transactions.identical_lines` is {identical!r}; use one of "
                f"{', '.join(IDENTICAL_LINES)}"
            )
        flags = ("identical_lines", "value_standardised")
        columns = (f.name for f in fields(cls) if f.name not in flags)
        roles = cls(
            **{k: data.get(k) or None for k in columns},
            identical_lines=identical,
            value_standardised=bool(data.get("value_standardised")),
        )
        declared = roles.columns
        if len(set(declared)) != len(declared):
            raise InputError("config.yaml: a column is declared twice in `transactions:`")
        return roles

    @property
    def columns(self) -> list[str]:
        """The export's declared columns, in role order."""
        return [getattr(self, key) for key in ROLE_KEYS if getattr(self, key)]

    @property
    def drops_identical_lines(self) -> bool:
        """Whether lines equal in every column are one line an export repeated (dropped) or
        several purchases (kept). `auto` drops them only where an invoice column tells orders
        apart: without one, a customer buying two single items at one price on one day writes
        the same line twice, and dropping it loses a real sale."""
        if self.identical_lines == "auto":
            return self.invoice is not None
        return self.identical_lines == "drop"

    @property
    def identical_lines_rule(self) -> str:
        """The rule in words, with the key that sets it."""
        if self.drops_identical_lines:
            done, reason = "dropped as an export's repeated rows", "with an invoice column"
        else:
            done, reason = "kept as separate purchases", "without an invoice column"
        why = f", {reason}" if self.identical_lines == "auto" else ""
        key = f"`transactions.identical_lines: {self.identical_lines}`"
        return f"identical lines are {done} ({key}{why})"

    def key_of(self, column: str) -> str:
        return next(f"transactions.{k}" for k in ROLE_KEYS if getattr(self, k) == column)

    @property
    def text(self) -> list[str]:
        """Columns read as text: ids keep their leading zeros, times their own format."""
        keys = (
            "customer_id",
            "timestamp",
            "invoice",
            "product",
            "description",
            "country",
            *MARKET_TEXT,
        )
        return [getattr(self, k) for k in keys if getattr(self, k)]


def load_transactions(path: str | Path, roles: TransactionRoles, key: str) -> pd.DataFrame:
    """Read a transaction export and check that every declared column is there."""
    raw = read_table(path, key, text=roles.text)
    if missing := [c for c in roles.columns if c not in raw.columns]:
        shown = ", ".join(f"{c!r} ({roles.key_of(c)})" for c in missing)
        have = ", ".join(map(str, raw.columns[:12])) + (" …" if len(raw.columns) > 12 else "")
        raise InputError(
            f"{path}: missing column(s) {shown} declared in config.yaml; the file has: {have}. "
            "Rename the columns in config.yaml `transactions:` or in the file."
        )
    return raw


def parse_times(values: pd.Series, time_format: str | None) -> pd.Series:
    """Timestamps from text (or integers such as 20251231 with a format); unparseable: NaT."""
    text = values.astype("string").str.strip()
    if time_format:
        return pd.to_datetime(text, format=time_format, errors="coerce").astype("datetime64[ns]")
    return pd.to_datetime(text, errors="coerce", format="ISO8601").astype("datetime64[ns]")


def is_cancellation(raw: pd.DataFrame, roles: TransactionRoles) -> pd.Series:
    """Lines that cancel: by invoice prefix when one is declared, else by a negative quantity
    (none without a quantity column)."""
    if roles.cancellation_prefix:
        invoice = raw[roles.invoice].astype("string").str.strip()
        return invoice.str.startswith(roles.cancellation_prefix).fillna(False).astype(bool)
    if not roles.quantity:
        return pd.Series(False, index=raw.index)
    return parse_numbers(raw[roles.quantity]).lt(0).fillna(False)


def transaction_contract(roles: TransactionRoles) -> list[Rule]:
    """The row-level contract of a transaction export, derived from the roles.

    Each rule's reason is the quarantine reason of the lines that fail it. Sign rules need the
    cancellation flag, so the contract is checked on the raw columns plus `_cancellation`.
    """
    value = roles.unit_price or roles.amount
    name = "unit price" if roles.unit_price else "amount"
    contract = rule(
        f"missing or unparseable {COLUMN}",
        [roles.timestamp],
        lambda c: each_column(lambda s: parse_times(s, roles.timestamp_format), c.raw).notna(),
        ignore_na=False,
    )
    # z-scored values may be zero or negative; a quantity column is optional
    signed = [value] if roles.value_standardised else []
    for column, label in ((roles.quantity, roles.quantity), (value, name)):
        contract += [
            *rule(f"non-numeric {COLUMN}", [column] if column else [],
                  lambda c: c.numbers.notna() | c.blank),
            *rule(f"missing {COLUMN}", [column] if column else [], lambda c: ~c.blank,
                  ignore_na=False),
            *rule(f"non-finite {COLUMN}", [column] if column else [],
                  lambda c: finite(c.numbers)),
            *rule(f"zero {label}", [column] if column and column not in signed else [],
                  lambda c: c.numbers.ne(0)),
        ]  # fmt: skip
    if roles.unit_price and not roles.value_standardised:
        contract += rule(f"negative {name}", [value], lambda c: ~c.numbers.lt(0))
    if roles.commission:
        contract += [
            *rule(
                f"non-numeric {COLUMN}", [roles.commission], lambda c: c.numbers.notna() | c.blank
            ),
            *rule(
                f"{COLUMN} outside 0 to 100 (a percent)",
                [roles.commission],
                lambda c: c.numbers.isna() | (c.numbers.ge(0) & c.numbers.le(100)),
            ),
        ]
    if roles.product_created:
        contract += rule(
            f"unparseable {COLUMN}",
            [roles.product_created],
            lambda c: each_column(lambda s: parse_times(s, None), c.raw).notna() | c.blank,
        )
    if roles.cancellation_prefix and roles.quantity:
        both = ["_cancellation", roles.quantity]
        contract += rule(
            f"cancellation {roles.invoice} with a positive {roles.quantity}",
            both,
            lambda c: ~(c.raw["_cancellation"] & c.numbers[roles.quantity].gt(0)),
        )
        contract += rule(
            f"negative {roles.quantity} outside a cancellation",
            both,
            lambda c: ~(~c.raw["_cancellation"] & c.numbers[roles.quantity].lt(0)),
        )
    return contract
