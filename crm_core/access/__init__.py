"""Access between departments: what each role may see and do, and how personal data is masked."""
