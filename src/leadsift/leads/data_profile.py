"""How the lead table's column roles map onto the parts of the shared data profile
(`leadsift.core.profile`): what the `data_profile` stage of this pipeline looks at."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from leadsift.core.io import InputError
from leadsift.core.profile import ProfilePlan
from leadsift.leads.schema import ColumnRoles, encode_target, target_classes


def profile_plan(roles: ColumnRoles, placeholders: Sequence[str]) -> ProfilePlan:
    """The parts the lead table's columns play in its data profile."""
    return ProfilePlan(
        name="leads",
        keys={c: roles.key_of(c) for c in roles.required},
        categorical=roles.categorical,
        numeric=tuple(roles.numeric_inputs),
        ids=(roles.id,) if roles.id else (),
        timestamp=roles.timestamp,
        target=roles.target,
        non_negative=tuple(roles.count_columns),
        flags=roles.flags,
        groups=roles.interaction_groups,
        placeholders=tuple(placeholders),
    )


def target_mask(raw: pd.DataFrame, roles: ColumnRoles, source: str) -> tuple[pd.Series | None, str]:
    """Genuine (True), junk (False) or unlabelled (missing) per row, as the contract reads the
    target; or None and why, when the target is absent or does not hold two classes."""
    if roles.target not in raw:
        return None, ""
    labels = raw[roles.target]
    try:
        classes = target_classes(labels, roles.positive_label, roles.negative_label, source)
    except InputError as err:
        return None, str(err).removeprefix(f"{source}: ")
    return encode_target(labels, classes).astype("boolean"), ""
