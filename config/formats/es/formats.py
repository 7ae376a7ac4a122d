"""Spanish pages: the same one format, in the order Spanish writes dates (config/formats/en)."""

DATE_FORMAT = "j M Y"  # 25 nov 2026
SHORT_DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
MONTH_DAY_FORMAT = "j M"
