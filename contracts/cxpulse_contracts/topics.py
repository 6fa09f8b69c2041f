"""Topic names and CloudEvents types fixed by the architecture."""

FEEDBACK = "cx.feedback.v1"
SCORED = "cx.feedback.scored.v1"
ALERTS = "cx.alerts.v1"
DEAD_LETTERS = "cx.feedback.dlq.v1"
ALL_TOPICS = (FEEDBACK, SCORED, ALERTS, DEAD_LETTERS)

CE_TYPE_SURVEY = "io.cxpulse.feedback.survey.v1"
CE_TYPE_MENTION = "io.cxpulse.feedback.mention.v1"
CE_TYPE_SCORED = "io.cxpulse.feedback.scored.v1"
CE_TYPE_ALERT = "io.cxpulse.alert.v1"
CE_TYPE_DEAD_LETTER = "io.cxpulse.feedback.deadletter.v1"
