"""Traffic from the client side: HTTP probes through the LB IP, scapy flows, next-hop
attribution and the statistics that judge them (no pytest import)."""
