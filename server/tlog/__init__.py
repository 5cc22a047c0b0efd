"""A verifiable log: RFC 9162 Merkle hashing and proofs, C2SP signed notes and
checkpoints (issue 14). Pure functions, no database and no I/O."""
