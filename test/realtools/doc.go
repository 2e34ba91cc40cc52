// Package realtools checks the detector on traffic from real attack tools
// (nmap, hping3, hydra, slowhttptest, DNS reflectors, ARP spoofing)
// recorded by scripts/record-attacks.sh in private network namespaces, and
// the outcome of real SSH logins read through encryption. It has only
// tests; see README.md beside this file.
package realtools
