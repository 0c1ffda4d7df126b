"""The /crm command language: its grammar and the date phrases people type."""
