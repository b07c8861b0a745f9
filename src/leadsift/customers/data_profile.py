"""How the transaction export's column roles map onto the parts of the shared data profile
(`leadsift.core.profile`): what the `data_profile` stage of this pipeline looks at."""

from __future__ import annotations

from leadsift.core.profile import ProfilePlan
from leadsift.customers.schema import TransactionRoles


def profile_plan(roles: TransactionRoles) -> ProfilePlan:
    """The parts the transaction export's columns play in its data profile: the customer and the
    invoice repeat by design; a unit price is never negative, a quantity is (cancellations)."""
    text = (roles.product, roles.description, roles.country, roles.niche, roles.category,
            roles.device, roles.origin)  # fmt: skip
    numbers = (roles.quantity, roles.unit_price, roles.amount, roles.commission)
    return ProfilePlan(
        name="transactions",
        keys={c: roles.key_of(c) for c in roles.columns},
        categorical=tuple(c for c in text if c),
        numeric=tuple(c for c in numbers if c),
        references=tuple(c for c in (roles.customer_id, roles.invoice) if c),
        timestamp=roles.timestamp,
        time_format=roles.timestamp_format,
        non_negative=(roles.unit_price,)
        if roles.unit_price and not roles.value_standardised
        else (),
    )
