"""Campaign lists: the customers of a segment, at risk, VIPs or won back, for a mailing."""
