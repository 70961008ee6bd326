"""Storage: SQLModel tables, the async engine and the transaction helper."""
