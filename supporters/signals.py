"""What the supporters' room tells the rooms above it, without importing them.

`credentials_changed` is sent inside the writing transaction when something that decides
whether a supporter's sessions earn billing units has changed: one supporter's credentials
(`supporter=`), or the program's lapsed-credential policy (`supporter=None`, every supporter
of the program). `sessions.billing` receives it and recomputes the client-days concerned, so
the billing rule stays in one place (connected in PeerSessionsConfig.ready)."""

from django.dispatch import Signal

credentials_changed = Signal()  # sender: the Program; keyword: supporter (Supporter | None)
