package detector

// Reflection is the reflection attack type: amplification through
// services other than DNS.
const Reflection = "reflection"

func init() {
	register(&AttackType{
		Name:           Reflection,
		Title:          "UDP reflection (NTP, SSDP, memcached, CLDAP, SNMP, chargen)",
		Alert:          "NetAnomalyReflection",
		Severity:       3,
		Technique:      "T1498.002",
		TechniqueName:  "Network Denial of Service: Reflection Amplification",
		Recommendation: "The target is receiving UDP replies from amplification-prone services (NTP, SSDP, memcached, CLDAP, SNMP): filter those source ports upstream, and close any such service of yours that answers the Internet.",
		Behaviour: "Answers from amplification-prone UDP services other than DNS (NTP, SSDP, memcached, CLDAP, SNMP, chargen, ...) that the target never asked for, " +
			"arriving in bulk; the same bars as DNS amplification. Or such servers seen answering one address's requests with 10 times their bytes or more (a service of ours abused; not SNMP, IPsec or mDNS, whose ordinary use moves bulk one way).",
		Names:  "Sources: the reflectors sending the answers; targets: the host they are aimed at.",
		order:  18,
		detect: func(e *evidence) []Attack { return amplification(e, false) },
	})
}
