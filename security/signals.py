"""Ending every session and API token when a user is deactivated or their
password changes, and stamping sign-in times for the session timeouts."""

from __future__ import annotations

import time
from typing import Any

from allauth.usersessions.models import UserSession
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from knox.models import AuthToken

from security.middleware import LAST_SEEN_KEY, STARTED_KEY

User = get_user_model()


def sessions_and_tokens_end(*, user: Any) -> None:
    """Delete every web session (tracked by allauth.usersessions) and every knox token."""
    for session in UserSession.objects.filter(user_id=user.pk):
        session.end()
    AuthToken.objects.filter(user_id=user.pk).delete()


@receiver(pre_save, sender=User)
def _remember_security_fields(sender: type[Any], instance: Any, **kwargs: Any) -> None:
    if instance.pk is None:
        return
    old = sender.objects.filter(pk=instance.pk).values("is_active", "password").first()
    instance._security_before = old


@receiver(post_save, sender=User)
def _end_access_when_needed(sender: type, instance: Any, created: bool, **kwargs: Any) -> None:
    old = getattr(instance, "_security_before", None)
    instance._security_before = None
    if created or not old:
        return
    if (old["is_active"] and not instance.is_active) or old["password"] != instance.password:
        sessions_and_tokens_end(user=instance)


@receiver(user_logged_in)
def _stamp_sign_in(sender: type, request: Any, user: Any, **kwargs: Any) -> None:

    if request is not None and hasattr(request, "session"):
        now = time.time()
        request.session[STARTED_KEY] = now
        request.session[LAST_SEEN_KEY] = now
