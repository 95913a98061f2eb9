"""Azure's published contracts, vendored: the REST specs the emulator and the tests check against.

Where it sits: a ground-floor package (it imports nothing else of the emulator or the
orchestrator). ``emulator.arm`` asks it which api-versions a resource type has and validates
request bodies with it; the contract tests validate every request the providers send with it;
the examples replay test reads the vendored ``x-ms-examples``.

Modules: ``loader`` (the vendored files, ``$ref`` resolution, operations by method + path +
api-version), ``schema`` (body validation: Azure's rules or the strict contract rules),
``versions`` (the api-versions Azure serves per resource type). The files themselves, their
source commits and how to refresh them: ``specs/README.md``.
"""
