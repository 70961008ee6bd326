"""Storage: the SQLModel tables (`models`), the one way to the database
(`engine.Database.interaction`) and the stores, one module per aggregate, of plain
synchronous functions over a connection. All SQL and every dialect branch live here."""
