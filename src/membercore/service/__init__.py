"""The application service: the engine's use cases over the ports.

:mod:`~membercore.service.engine` (the :class:`~membercore.Engine`),
:mod:`~membercore.service.use_cases` (one handler per command) over a
:mod:`~membercore.service.unit_of_work`, :mod:`~membercore.service.pipeline` (one
message through every part of a member's record), :mod:`~membercore.service.member`
(the member's whole record), :mod:`~membercore.service.merges`,
:mod:`~membercore.service.recording` (the one commit), :mod:`~membercore.service.dispatch`
(the outbox through the channels), and the checks on what comes in
(:mod:`~membercore.service.limits`, :mod:`~membercore.service.plausibility`).
"""
