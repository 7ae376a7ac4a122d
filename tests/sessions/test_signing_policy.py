"""Signing honours the program's lapsed-credential policy (issue 5 × issue 4)."""

import pytest


def test_a_lapsed_supporter_cannot_sign_when_the_program_blocks(cast):
    from datetime import timedelta

    from django.core.exceptions import ValidationError

    from sessions.services import note_sign
    from supporters.models import Certification, LapsedPolicy, ProgramPolicy
    from tests.factories import PeerSessionFactory

    ProgramPolicy.objects.update_or_create(
        program=cast.program, defaults={"lapsed_credential_policy": LapsedPolicy.BLOCK}
    )
    Certification.objects.create(
        supporter=cast.supporter,
        certification_type="CPS",
        number="1",
        expires_on=cast.program.local_today() - timedelta(days=1),
    )
    session = PeerSessionFactory(supporter=cast.supporter, narrative="We talked about the job interview.")
    with pytest.raises(ValidationError, match="lapsed"):
        note_sign(session=session, user=cast.supporter_user)
    ProgramPolicy.objects.filter(program=cast.program).update(lapsed_credential_policy=LapsedPolicy.WARN)
    assert note_sign(session=session, user=cast.supporter_user).signed_at is not None
