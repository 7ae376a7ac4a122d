from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Prefetch
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from base.api_base import (
    ReadWriteViewSet,
    RowsListMixin,
    ScopedMixin,
    attach_prefetched,
    grouped_by,
    localize_in_program,
)
from clients.disclosure import session_disclosures
from clients.models import Clinician
from core.models import Role
from core.pagination import StartCursorPagination
from core.permissions import WHOEVER_SEES_IT
from core.scoping import role_program_ids
from security.reauth import require_password_again
from sessions import fhir, services
from sessions.billing import billing_units_summary
from sessions.filters import FeedbackItemFilter, FollowUpTaskFilter, PeerSessionFilter
from sessions.models import (
    Attendance,
    FeedbackItem,
    FeedbackReply,
    FollowUpTask,
    NoteAddendum,
    Notification,
    PeerSession,
    SessionSeries,
)
from sessions.serializers import (
    ContactRequestSerializer,
    FeedbackItemSerializer,
    FeedbackReplySerializer,
    FollowUpTaskSerializer,
    NoteAddendumSerializer,
    NotificationSerializer,
    PeerSessionSerializer,
    SeriesMoveSerializer,
    SeriesSkipSerializer,
    SessionSeriesSerializer,
    TaskCompleteSerializer,
    feedback_item_rows,
    peer_session_rows,
)
from supporters.models import Supporter

if TYPE_CHECKING:
    from core.request_types import AuthenticatedApiRequest


class TextSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=20000)


class SignRequestSerializer(serializers.Serializer):
    password = serializers.CharField(
        write_only=True, required=False, help_text="Your password again (not needed within minutes of signing in)."
    )


class PeerSessionViewSet(RowsListMixin, ReadWriteViewSet):
    model = PeerSession
    serializer_class = PeerSessionSerializer
    # Supporters write their own sessions; coordinators read all, edit none. The services
    # further allow only the session's own supporter to sign it or add to its note.
    write_roles = {
        "create": {Role.SUPPORTER},
        "update": {Role.SUPPORTER},
        "sign": {Role.SUPPORTER},
        # The author's supervisor (PeerSessionQuerySet.supervised_by): a coordinator of the program.
        "cosign": {Role.COORDINATOR},
        "addenda": {Role.SUPPORTER},
        "log": {Role.SUPPORTER},
    }
    filterset_class = PeerSessionFilter
    pagination_class = StartCursorPagination
    ordering_fields = ["start"]

    def get_queryset(self) -> models.QuerySet:
        queryset = super().get_queryset().select_related("supporter")
        if self.action == "list":
            return queryset  # the page's children are attached in paginate_queryset
        return queryset.prefetch_related(
            Prefetch("attendances", queryset=Attendance.objects.order_by("id")),
            Prefetch("addenda", queryset=NoteAddendum.objects.order_by("created_at", "id")),
        )

    def paginate_queryset(self, queryset: models.QuerySet) -> list | None:
        page = super().paginate_queryset(queryset)
        if page is not None:
            # What prefetch_related() does, minus the filtered queryset it builds per session
            # (a quarter of a 50-session page's time): one query per relation, as before.
            attach_prefetched(page, "attendances", Attendance.objects.order_by("id"))
            attach_prefetched(page, "addenda", NoteAddendum.objects.order_by("created_at", "id"))
        return page

    def list_rows(self, page: list[PeerSession]) -> list[dict]:
        return peer_session_rows(page, self.get_serializer_context())

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if getattr(self, "swagger_fake_view", False):
            return context
        context["coordinator_program_ids"] = role_program_ids(self.request.user).coordinator
        return context

    def program_id_of(self, *, instance: Any = None, data: Any = None) -> int:
        return instance.program_id if instance is not None else data["supporter"].program_id

    def _save(self, serializer: PeerSessionSerializer, session: PeerSession) -> None:
        data = dict(serializer.validated_data)
        supporter = data.get("supporter", getattr(session, "supporter", None))
        assert supporter is not None  # required on create; an update has the session's
        if supporter.user_id != self.request.user.pk:
            raise serializers.ValidationError({"supporter": ["You can only log your own sessions."]})
        attendances = data.pop("attendances", None)
        serializer.instance = services.peer_session_save(session=session, attendances=attendances, fields=data)

    def create_record(self, serializer: PeerSessionSerializer) -> None:
        self._save(serializer, PeerSession())

    def update_record(self, serializer: PeerSessionSerializer) -> None:
        assert serializer.instance is not None  # an update has its record
        self._save(serializer, serializer.instance)

    @extend_schema(request=SignRequestSerializer, responses=PeerSessionSerializer)
    @action(detail=True, methods=["post"])
    def sign(self, request: AuthenticatedApiRequest, pk: str | None = None) -> Response:
        """Sign the note: the password again (`password`), unless the session signed in within
        REAUTH_SECONDS, as the page asks (security.reauth)."""
        session = self.get_object()
        require_password_again(request, request.data.get("password") if hasattr(request.data, "get") else None)
        services.note_sign(session=session, user=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=session.pk)).data)

    @extend_schema(request=SignRequestSerializer, responses=PeerSessionSerializer)
    @action(detail=True, methods=["post"])
    def cosign(self, request: AuthenticatedApiRequest, pk: str | None = None) -> Response:
        """The supervisor co-signs the signed note (where the program asks for it): 404 unless the
        author is someone the caller supervises; the password again, as for signing."""
        session = self.get_object()
        if not PeerSession.objects.supervised_by(request.user).filter(pk=session.pk).exists():
            raise Http404
        require_password_again(request, request.data.get("password") if hasattr(request.data, "get") else None)
        services.note_cosign(session=session, user=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=session.pk)).data)

    @extend_schema(request=None, responses=PeerSessionSerializer)
    @action(detail=True, methods=["post"])
    def log(self, request: AuthenticatedApiRequest, pk: str | None = None) -> Response:
        """ "Log it": the scheduled session whose time has come is held, everyone booked attended
        (completed); then write the note with an update. Only the session's supporter."""
        session = self.get_object()
        if session.supporter.user_id != request.user.pk:
            raise Http404
        services.peer_session_log(session=session, user=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=session.pk)).data)

    @action(detail=True, methods=["post"], serializer_class=TextSerializer)
    def addenda(self, request: AuthenticatedApiRequest, pk: str | None = None) -> Response:
        session = self.get_object()
        body = TextSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        addendum = services.note_addendum_add(session=session, user=request.user, text=body.validated_data["text"])
        return Response(NoteAddendumSerializer(addendum).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"], url_path="fhir", url_name="fhir")
    def fhir_encounter(self, request: Request, pk: str | None = None) -> Response:
        session = self.get_object()
        seen = session_disclosures(request.user, [session])[session.pk]
        return Response(fhir.encounter_json(session, seen=seen), content_type="application/fhir+json")

    @action(detail=False, methods=["get"])
    def units(self, request: Request) -> Response:
        """Billing units by line over the filtered, scoped sessions (e.g. ?start_after=&start_before=)."""
        sessions = self.filter_queryset(self.get_queryset())
        # Units are not among the facts the treatment purpose discloses: a clinician needs a consent.
        attendances = Attendance.objects.visible_to(request.user, facts_only=False).filter(
            session__in=sessions.values("id")
        )
        return Response(billing_units_summary(attendances))


class SessionSeriesViewSet(ReadWriteViewSet):
    """Recurring sessions booked ahead (sessions.recurrence): the series and its occurrences,
    which are scheduled peer sessions. Scoped and permitted as sessions are: supporters book
    and change their own, coordinators read their programs'."""

    model = SessionSeries
    serializer_class = SessionSeriesSerializer
    write_roles = {
        "create": {Role.SUPPORTER},
        "update": {Role.SUPPORTER},
        "skip": {Role.SUPPORTER},
        "move": {Role.SUPPORTER},
    }

    def get_queryset(self) -> models.QuerySet:
        return (
            super()
            .get_queryset()
            .select_related("supporter", "program")
            .prefetch_related("clients", "exceptions", "sessions")
            .order_by("id")
        )

    def program_id_of(self, *, instance: Any = None, data: Any = None) -> int:
        return instance.program_id if instance is not None else data["supporter"].program_id

    def _own(self, series: SessionSeries | None, supporter: Supporter | None) -> None:
        supporter = supporter or (series.supporter if series is not None else None)
        if supporter is None or supporter.user_id != self.request.user.pk:
            raise serializers.ValidationError({"supporter": ["You can only book your own sessions."]})

    def _save(self, serializer: SessionSeriesSerializer, series: SessionSeries) -> None:
        data = dict(serializer.validated_data)
        self._own(series if series.pk else None, data.get("supporter"))
        clients = data.pop("clients", None)
        if clients is None:
            clients = list(series.clients.all())
        serializer.instance = services.session_series_save(series=series, clients=clients, fields=data)

    def create_record(self, serializer: SessionSeriesSerializer) -> None:
        self._save(serializer, SessionSeries())

    def update_record(self, serializer: SessionSeriesSerializer) -> None:
        assert serializer.instance is not None
        self._save(serializer, serializer.instance)

    @extend_schema(request=SeriesSkipSerializer, responses=SessionSeriesSerializer)
    @action(detail=True, methods=["post"])
    def skip(self, request: AuthenticatedApiRequest, pk: str | None = None) -> Response:
        """Skip one occurrence (its scheduled session is cancelled)."""
        series = self.get_object()
        self._own(series, None)
        body = SeriesSkipSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.session_series_skip(series=series, occurrence_date=body.validated_data["occurrence_date"])
        return Response(self.get_serializer(self.get_queryset().get(pk=series.pk)).data)

    @extend_schema(request=SeriesMoveSerializer, responses=SessionSeriesSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request: AuthenticatedApiRequest, pk: str | None = None) -> Response:
        """Move one occurrence to a new start; the rest keep the rule."""
        series = self.get_object()
        self._own(series, None)
        body = SeriesMoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        localize_in_program(data, "start", series.program)
        services.session_series_move(series=series, occurrence_date=data["occurrence_date"], start=data["start"])
        return Response(self.get_serializer(self.get_queryset().get(pk=series.pk)).data)


class FeedbackItemViewSet(
    RowsListMixin,
    ScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    GenericViewSet,
):
    """Sent through feedback_send only; items are never edited, only acknowledged and answered."""

    model = FeedbackItem
    serializer_class = FeedbackItemSerializer
    # Peer supporters send feedback; who may acknowledge or reply (a recipient, the author)
    # is feedback_acknowledge's and feedback_reply's to decide.
    write_roles = {"create": {Role.SUPPORTER}, "acknowledge": WHOEVER_SEES_IT, "replies": WHOEVER_SEES_IT}
    filterset_class = FeedbackItemFilter
    ordering_fields = ["created_at", "deadline", "id"]

    def get_queryset(self) -> models.QuerySet:
        queryset = super().get_queryset()
        if self.action == "list":
            return queryset  # the page's recipients and replies are attached in paginate_queryset
        return queryset.select_related("author").prefetch_related(
            Prefetch("recipients", queryset=Clinician.objects.order_by("id")),
            Prefetch("replies", queryset=FeedbackReply.objects.order_by("id")),
        )

    def list_rows(self, page: list[FeedbackItem]) -> list[dict]:
        return feedback_item_rows(page)

    def paginate_queryset(self, queryset: models.QuerySet) -> list | None:
        page = super().paginate_queryset(queryset)
        if page is not None:
            attach_prefetched(page, "replies", FeedbackReply.objects.order_by("id"))
            # (clinician id, their user id) per item from the link table alone: a prefetch of the
            # many-to-many would build and join Clinician objects the list never shows.
            links = FeedbackItem.recipients.through.objects.filter(feedbackitem_id__in=[i.pk for i in page])
            recipients = grouped_by(
                links.order_by("clinician_id"), "feedbackitem_id", "clinician_id", "clinician__user_id"
            )
            for item in page:
                item.recipient_rows = recipients.get(item.pk, [])
        return page

    def program_id_of(self, *, instance: Any = None, data: Any = None) -> int:
        # feedback_send refuses an author from another program than the client's.
        return instance.program_id if instance is not None else data["client"].program_id

    def create_record(self, serializer: FeedbackItemSerializer) -> None:
        data = serializer.validated_data
        client = data["client"]
        author = (
            data.get("author")
            or Supporter.objects.filter(user_id=self.request.user.pk, program_id=client.program_id).first()
        )
        if author is None or author.user_id != self.request.user.pk:
            raise serializers.ValidationError({"author": ["You can only send feedback as yourself."]})
        serializer.instance = services.feedback_send(
            author=author,
            client=client,
            recipients=list(data["recipients"]),
            category=data["category"],
            urgency=data["urgency"],
            text=data["text"],
            session=data.get("session"),
            emergency_justification=data.get("emergency_justification", ""),
        )

    @action(detail=True, methods=["post"])
    def acknowledge(self, request: AuthenticatedApiRequest, pk: str | None = None) -> Response:
        item = services.feedback_acknowledge(item=self.get_object(), user=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=item.pk)).data)

    @action(detail=True, methods=["post"], serializer_class=FeedbackReplySerializer)
    def replies(self, request: AuthenticatedApiRequest, pk: str | None = None) -> Response:
        item = self.get_object()
        body = FeedbackReplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reply = services.feedback_reply(item=item, user=request.user, text=body.validated_data["text"])
        return Response(FeedbackReplySerializer(reply).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"], url_path="fhir", url_name="fhir")
    def fhir_communication(self, request: Request, pk: str | None = None) -> Response:
        return Response(fhir.communication_json(self.get_object()), content_type="application/fhir+json")


class NotificationViewSet(ScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    model = Notification
    serializer_class = NotificationSerializer
    # Each user sees only their own notifications.
    write_roles = {"read": WHOEVER_SEES_IT}
    filterset_fields = ["kind"]

    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        notification = self.get_object()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
        notification.refresh_from_db()
        return Response(self.get_serializer(notification).data)


class FollowUpTaskViewSet(ScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Follow-up tasks (docs/tasks.md): a supporter's own, the program's for coordinators, the
    requests for contact a clinician raised. `?state=open|overdue|escalated|done` (default: all)."""

    model = FollowUpTask
    serializer_class = FollowUpTaskSerializer
    filterset_class = FollowUpTaskFilter
    # The assignee or a coordinator closes it (FollowUpTask.handled_by, in the service); a
    # clinician or a coordinator asks for contact with a client they see.
    write_roles = {
        "complete": {Role.SUPPORTER, Role.COORDINATOR},
        "request_contact": {Role.CLINICIAN, Role.COORDINATOR},
    }
    ordering_fields = ["due_at", "created_at", "id"]

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().select_related("assignee")

    @extend_schema(request=TaskCompleteSerializer, responses=FollowUpTaskSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: AuthenticatedApiRequest, pk: str | None = None) -> Response:
        task = self.get_object()
        body = TaskCompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = services.task_complete(task=task, user=request.user, note=body.validated_data["note"])
        return Response(self.get_serializer(task).data)

    @extend_schema(request=ContactRequestSerializer, responses={201: FollowUpTaskSerializer})
    @action(detail=False, methods=["post"], url_path="request-contact", url_name="request-contact")
    def request_contact(self, request: AuthenticatedApiRequest) -> Response:
        """Ask peer support to contact a client now: the on-call supporter is told at once (in the
        app and by text); with no one on call the coordinators are. 201 with the task."""
        body = ContactRequestSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        client = body.validated_data["client"]
        self.check_data_permissions({"program": client.program})
        task = services.contact_request_raise(
            client=client, requested_by=request.user, note=body.validated_data["note"]
        )
        return Response(self.get_serializer(task).data, status=status.HTTP_201_CREATED)
