"""Import and export of customers, purchases and interactions as CSV or XLSX files.

Reading (``source``) turns a file into text rows keyed by line number; each entity module validates
its rows column by column with pandas and bulk-writes the valid ones; ``importer`` ties them together
so all three share one pipeline, one report format and one audit event per import.
"""
