"""Export of a dossier (issue 13, docs/export.md): the job, its build in the worker, the
sealed archive and its one-time handover."""
