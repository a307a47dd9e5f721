"""Results that reach people: saved searches, webhook alerts, export."""
