"""Preparing transaction lines: canonical columns, exact duplicates dropped (or kept as purchases:
`TransactionRoles.drops_identical_lines`), lines that break the contract quarantined with a
reason, and every cancellation matched to the purchase it cancels.

Every input line is accounted for: `rows_in = rows_clean + rows_duplicate + rows_quarantined`.
Guest lines (no customer id) are clean, count toward revenue, and are left out of segmentation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadsift.core.contract import (
    Cleaned,
    contract_violations,
    duplicate_rows,
    parse_numbers,
    squeeze,
)
from leadsift.core.io import InputError
from leadsift.customers.schema import (
    MARKET_ROLES,
    MARKET_TEXT,
    TransactionRoles,
    is_cancellation,
    parse_times,
    transaction_contract,
)

CLEAN_COLUMNS = [
    "customer_id",
    "invoice",
    "timestamp",
    "product",
    "description",
    "quantity",
    "unit_price",
    "amount",
    "cancellation",
    "cancels_invoice",
    "country",
    *MARKET_ROLES,
    "value_z",
]
UNMATCHED = "cancels no earlier purchase of this customer and product"
SOCIAL_TRUE = ("1", "1.0", "true", "yes", "y", "t")


def _text(values: pd.Series) -> pd.Series:
    """Trimmed text with runs of whitespace collapsed; blank becomes missing."""
    text = squeeze(values)
    return text.mask(text.eq(""))


def canonical(raw: pd.DataFrame, roles: TransactionRoles) -> pd.DataFrame:
    """The export in canonical columns. A line's amount is signed by its quantity; without an
    invoice column an order is a customer's purchases at one time; without a quantity column a
    line is one unit (minus one if it cancels). With z-scored values, money is not known: a unit
    is worth 1 (the pipeline counts units) and the z-score is kept as `value_z` (a unit's with a
    unit price role, a line's with an amount role: `market.line_values`)."""
    cancellation = is_cancellation(raw, roles)
    if roles.quantity:
        quantity = parse_numbers(raw[roles.quantity])
    else:
        quantity = pd.Series(np.where(cancellation, -1.0, 1.0), index=raw.index)
    value_z = pd.Series(np.nan, index=raw.index)
    if roles.value_standardised:
        value_z = parse_numbers(raw[roles.unit_price or roles.amount])  # a unit's, or a line's
        unit_price, amount = pd.Series(1.0, index=raw.index), quantity.astype(float)
    elif roles.unit_price:
        unit_price = parse_numbers(raw[roles.unit_price])
        amount = quantity * unit_price
    else:
        amount = parse_numbers(raw[roles.amount]).abs() * np.sign(quantity)
        unit_price = amount / quantity
    timestamp = parse_times(raw[roles.timestamp], roles.timestamp_format)
    customer = _text(raw[roles.customer_id])
    if roles.invoice:
        invoice = _text(raw[roles.invoice])
    else:
        invoice = customer.fillna("guest") + "@" + timestamp.astype("string")
    description = _text(raw[roles.description]) if roles.description else None
    if roles.product:
        product = _text(raw[roles.product]).str.upper()
    else:
        product = description.str.casefold() if description is not None else None
    missing = pd.Series(pd.NA, index=raw.index, dtype="string")
    return pd.DataFrame(
        {
            "customer_id": customer,
            "invoice": invoice,
            "timestamp": timestamp,
            "product": product if product is not None else missing,
            "description": description if description is not None else missing,
            "quantity": quantity,
            "unit_price": unit_price,
            "amount": amount,
            "cancellation": cancellation,
            "cancels_invoice": missing,
            "country": _text(raw[roles.country]) if roles.country else missing,
            **market_columns(raw, roles),
            "value_z": value_z,
        }
    )


def market_columns(raw: pd.DataFrame, roles: TransactionRoles) -> dict[str, pd.Series]:
    """A marketplace's canonical columns (missing where a role is not declared). A sale is direct
    when its affiliate is blank or the producer itself: the affiliate is then missing."""
    missing = pd.Series(pd.NA, index=raw.index, dtype="string")
    columns = {
        key: _text(raw[getattr(roles, key)]) if getattr(roles, key) else missing
        for key in MARKET_TEXT
    }
    if roles.affiliate and roles.producer:
        columns["affiliate"] = columns["affiliate"].mask(
            columns["affiliate"] == columns["producer"]
        )
    columns["commission"] = (
        parse_numbers(raw[roles.commission])
        if roles.commission
        else pd.Series(np.nan, index=raw.index)
    )
    columns["product_created"] = (
        parse_times(raw[roles.product_created], None)
        if roles.product_created
        else pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    )
    if roles.social_origin:
        text = _text(raw[roles.social_origin]).str.casefold()
        columns["social_origin"] = text.isin(SOCIAL_TRUE).astype("boolean").mask(text.isna())
    else:
        columns["social_origin"] = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    return {key: columns[key] for key in MARKET_ROLES}


def match_cancellations(lines: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Match each cancellation line to the purchases of the same customer and product before it,
    latest first, as far as their units go (a purchase cancelled once cannot be cancelled again).

    Returns the invoice of the latest purchase it cancels (missing where unmatched) and whether it
    matched. Guests' cancellations match guests' purchases of the same product. Only the keys that
    have a cancellation are walked, in time order, so the work is proportional to them.
    """
    key = lines["customer_id"].fillna("") + "\x1f" + lines["product"].fillna("")
    codes = pd.factorize(key)[0]
    cancelled = lines["cancellation"].to_numpy()
    involved = np.isin(codes, np.unique(codes[cancelled]))
    rows = np.flatnonzero(involved)
    times = lines["timestamp"].to_numpy()[rows]
    rows = rows[np.lexsort((cancelled[rows], times, codes[rows]))]  # purchases first at a tie
    units = lines["quantity"].to_numpy()
    invoices = lines["invoice"].to_numpy(dtype=object)
    matched = np.zeros(len(lines), dtype=bool)
    cancels = np.full(len(lines), None, dtype=object)
    stack: list[list] = []  # the current key's purchases: [invoice, units left]
    current = -1
    for row in rows:
        if codes[row] != current:
            current, stack = codes[row], []
        if not cancelled[row]:
            stack.append([invoices[row], units[row]])
            continue
        needed = -units[row]
        if sum(left for _, left in stack) < needed:
            continue
        cancels[row] = stack[-1][0]
        while needed > 0:
            take = min(needed, stack[-1][1])
            stack[-1][1] -= take
            needed -= take
            if stack[-1][1] <= 0:
                stack.pop()
        matched[row] = True
    invoice = pd.Series(cancels, index=lines.index, dtype="string")
    return invoice, pd.Series(matched, index=lines.index)


def clean_transactions(
    raw: pd.DataFrame,
    roles: TransactionRoles,
    *,
    source: str,
    history: pd.DataFrame | None = None,
) -> Cleaned:
    """Canonical clean lines, the quarantined raw lines with a `reason`, and the row accounting.

    With `history` (clean lines of earlier exports), a cancellation may match a purchase there.
    """
    lines = canonical(raw, roles)
    if roles.drops_identical_lines:
        duplicate = duplicate_rows(lines.drop(columns="cancels_invoice"))
    else:
        duplicate = np.zeros(len(lines), dtype=bool)
    # The contract checks the raw columns in place (no copy of the kept lines: at millions of
    # lines that copy was the stage's peak memory); duplicates' reasons are dropped after.
    reasons = contract_violations(
        transaction_contract(roles),
        raw[roles.columns].assign(_cancellation=lines["cancellation"]),
    )[~duplicate]
    kept = lines[~duplicate]
    del lines  # the kept lines are a copy
    valid = kept[reasons.isna()]
    if history is None:
        invoice, matched = match_cancellations(valid)
    else:
        both = pd.concat([history[valid.columns], valid], ignore_index=True)
        invoice, matched = (
            r.iloc[len(history) :].set_axis(valid.index) for r in match_cancellations(both)
        )
    unmatched = valid.index[valid["cancellation"].to_numpy() & ~matched.to_numpy()]
    reasons[unmatched] = UNMATCHED
    bad = reasons.notna()
    clean = valid.drop(index=unmatched).assign(cancels_invoice=invoice.drop(index=unmatched))
    quarantine = raw.loc[kept.index[bad]].assign(reason=reasons[bad])
    counts = {
        "rows_in": len(raw),
        "rows_clean": len(clean),
        "rows_duplicate": int(duplicate.sum()),
        "rows_quarantined": int(bad.sum()),
        "rows_guest": int(clean["customer_id"].isna().sum()),
        "cancellation_lines": int(clean["cancellation"].sum()),
        "customers": int(clean["customer_id"].nunique()),
    }
    if clean.empty:
        common = reasons[bad].str.split("; ").explode().value_counts().head(3)
        listed = ", ".join(f"{reason} ({n})" for reason, n in common.items())
        raise InputError(
            f"{source}: all {len(kept)} lines are quarantined (most common: {listed}); "
            "check the column roles in config.yaml `transactions:` against the file"
        )
    return Cleaned(
        clean.sort_values(["timestamp", "invoice"], kind="stable", ignore_index=True)[
            CLEAN_COLUMNS
        ],
        quarantine.reset_index(drop=True),
        counts,
    )
