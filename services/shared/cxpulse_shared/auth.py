"""Bearer tokens for the non-webhook APIs: one operator token that sees all, one per team."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Request

from cxpulse_shared.problem import Problem
from cxpulse_shared.settings import ApiAuthSettings

OPERATOR = "operator"


@dataclass(frozen=True)
class Caller:
    team: str

    @property
    def is_operator(self) -> bool:
        return self.team == OPERATOR

    def require_operator(self, needs: str) -> None:
        """403 problem+json unless this is the operator token; `needs` names what asked for it."""
        if not self.is_operator:
            raise Problem(403, "operators-only", "Operators only", f"{needs} needs the operator token")


class TokenAuthority:
    def __init__(self, settings: ApiAuthSettings) -> None:
        self._tokens = [(OPERATOR, settings.api_token.get_secret_value().encode())] + [
            (team, token.get_secret_value().encode()) for team, token in settings.team_tokens.items()
        ]

    def caller_for(self, request: Request) -> Caller:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            raise Problem(401, "unauthenticated", "Missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        presented_bytes = presented.strip().encode()
        team = None
        # Compare against every token so the time taken does not reveal which one nearly matched.
        for candidate_team, token in self._tokens:
            if hmac.compare_digest(presented_bytes, token):
                team = candidate_team
        if team is None:
            raise Problem(401, "unauthenticated", "Unknown bearer token", headers={"WWW-Authenticate": "Bearer"})
        return Caller(team)
