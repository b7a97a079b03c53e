"""The application service: the engine's use cases over the ports.

- The engine: :mod:`~membercore.service.engine` (the :class:`~membercore.Engine`: its
  construction, units of work, commands and views), :mod:`~membercore.service.calls` (its
  named calls), :mod:`~membercore.service.inputs` (what comes in, read within the
  :mod:`~membercore.service.limits`), :mod:`~membercore.service.ingestion`,
  :mod:`~membercore.service.ticking` and :mod:`~membercore.service.reports`.
- The use cases: :mod:`~membercore.service.use_cases` (the table from command to
  handler), :mod:`~membercore.service.handling` (what they share),
  :mod:`~membercore.service.family`, :mod:`~membercore.service.gifts` and
  :mod:`~membercore.service.merges`, over one :mod:`~membercore.service.unit_of_work` that
  :mod:`~membercore.service.recording` commits once.
- The pipeline: :mod:`~membercore.service.pipeline` (one message through every part of
  a member's record), :mod:`~membercore.service.context`,
  :mod:`~membercore.service.runner`, :mod:`~membercore.service.actions` (a journey's
  action as its part's command) and :mod:`~membercore.service.work` (the staff work
  that follows: call tasks, tasks reported done), over :mod:`~membercore.service.member`
  (the member's whole record) and :mod:`~membercore.service.plausibility`.
- Delivery: :mod:`~membercore.service.dispatch` (the outbox through the channels).
"""
