"""Free text that can carry health information, encrypted at rest like session notes.

django-searchable-encrypted-fields (Fernet, keys in SALT_KEY / FIELD_ENCRYPTION_KEYS) stores
the ciphertext in a text column and decrypts on read. Its one surprise: an empty value is
stored as NULL. These fields keep an empty text empty (""), so columns stay NOT NULL and
code keeps reading "" for "nothing written"; an empty cell reveals only that it is empty.
A value that is not a token (rows written before encryption) reads as it is, which is what
the data migrations rely on to encrypt old rows in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from encrypted_fields.fields import EncryptedFieldMixin

if TYPE_CHECKING:  # the package is untyped: to the checker its fields are the Django fields they extend
    from django.db.models import CharField as EncryptedCharField
    from django.db.models import TextField as EncryptedTextField
else:
    from encrypted_fields.fields import EncryptedCharField, EncryptedTextField


class _KeepsEmpty:
    def get_prep_value(self, value: Any) -> Any:
        if value == "":
            return ""
        return super().get_prep_value(value)  # type: ignore[misc]


class EncryptedText(_KeepsEmpty, EncryptedTextField):
    """An encrypted TextField."""


class EncryptedShortText(_KeepsEmpty, EncryptedCharField):
    """An encrypted CharField: max_length applies to the plain text; the column is text."""


def is_encrypted(field: Any) -> bool:
    """Whether a model field is stored encrypted (writers around the ORM, e.g. COPY, must encrypt)."""
    return isinstance(field, EncryptedFieldMixin)


def encrypt_rows(model: Any, fields: list[str], *, batch_size: int = 500) -> int:
    """Encrypt the plain text left in `fields` of every row (a data migration's step): each
    value is read (plain text reads as itself) and written back through the field."""
    count = 0
    queryset = model.objects.only("pk", *fields).order_by("pk")
    last = None
    while True:
        batch = list((queryset.filter(pk__gt=last) if last is not None else queryset)[:batch_size])
        if not batch:
            return count
        model.objects.bulk_update(batch, fields)
        count += len(batch)
        last = batch[-1].pk
