"""A FHIR server as a source: polled (:mod:`.polling`), or notifying (:mod:`.subscriptions`)."""
