"""Pure domain code: value types and rules, no I/O."""
