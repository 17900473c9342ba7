# Run by make-fixtures.sh in a fresh network namespace (see there).
# Load firewalld 1.3.3's own nftables backend (python3-firewall, unpacked) and have it
# build and apply the rules of a default public zone, in the current network namespace.
import sys
from types import SimpleNamespace
from firewall.core.nftables import nftables

open_mode = len(sys.argv) > 1 and sys.argv[1] == "open"

class Policies:
    def __init__(self):
        self._policies = {
            "zone_public_IN": SimpleNamespace(target="%%REJECT%%", derived_from_zone="public", priority=0),
            "zone_public_FWD": SimpleNamespace(target="%%REJECT%%", derived_from_zone="public", priority=0),
            "zone_trusted_IN": SimpleNamespace(target="ACCEPT", derived_from_zone="trusted", priority=0),
            "zone_trusted_FWD": SimpleNamespace(target="ACCEPT", derived_from_zone="trusted", priority=0),
        }
    def get_policy(self, p):
        return self._policies[p]
    def policy_base_chain_name(self, policy, table, prefix, isSNAT=False):
        zone, kind = policy.split("_")[1], policy.split("_")[2]
        return "%s_%s" % (kind, zone)

fw = SimpleNamespace(policy=Policies(), get_log_denied=lambda: "off",
                     ipv6_rpfilter_enabled=False, _log_denied="off")
nft = nftables(fw)
rules = nft.build_default_tables() + nft.build_default_rules("off")

def zone(name, chains_ifaces, ports):
    out = []
    for chain, kind in (("INPUT", "IN"), ("FORWARD", "FWD")):
        pol = "zone_%s_%s" % (name, kind)
        out += nft.build_policy_chain_rules(True, pol, "filter", chain)
        out += nft.build_zone_source_interface_rules(True, name, pol, chains_ifaces, "filter",
                                                     chain, append=(chains_ifaces == "*"))
        if chain == "INPUT":
            for proto, port in ports:
                out += nft.build_policy_ports_rules(True, pol, proto, port)
    return out

# The default zone, public: services ssh (tcp 22) and dhcpv6-client (udp 546 to fe80::/64).
rules += zone("public", "*", [("tcp", "22")] + ([("udp", "51820")] if open_mode else []))
rules += nft.build_policy_ports_rules(True, "zone_public_IN", "udp", "546", destination="fe80::/64")
if open_mode:
    rules += zone("trusted", "wg0", [])
nft.set_rules(rules, "off")
