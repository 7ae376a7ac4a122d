"""One date format on every page (issue 16: pages mixed 2026-11-17 and Nov. 25, 2026).

Templates write `|date` (DATE_FORMAT) or `|date:"DATETIME_FORMAT"`, never a pattern of their
own; machine-readable outputs (CSV, API, FHIR, the audit export) keep ISO 8601."""

DATE_FORMAT = "M j, Y"  # Nov 25, 2026
SHORT_DATE_FORMAT = "M j, Y"
DATETIME_FORMAT = "M j, Y, H:i"  # Nov 25, 2026, 14:05
SHORT_DATETIME_FORMAT = "M j, Y, H:i"
MONTH_DAY_FORMAT = "M j"
