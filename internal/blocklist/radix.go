package blocklist

// radixSort sorts a by its low nbytes bytes (least significant digit first,
// stable, so higher bytes keep the order they came in). For the million-entry
// lists of the load target it is several times faster than a comparison
// sort: the IPv4 keys are 40 bits, five passes of one byte.
func radixSort(a []uint64, nbytes int) {
	if len(a) < 256 {
		insertionSort(a, uint64(1)<<(8*nbytes)-1)
		return
	}
	buf := make([]uint64, len(a))
	src, dst := a, buf
	for shift := 0; shift < 8*nbytes; shift += 8 {
		var count [256]int
		for _, v := range src {
			count[byte(v>>shift)]++
		}
		if count[byte(src[0]>>shift)] == len(src) {
			continue // every key has this digit
		}
		pos := 0
		for d, c := range count {
			count[d] = pos
			pos += c
		}
		for _, v := range src {
			d := byte(v >> shift)
			dst[count[d]] = v
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &a[0] {
		copy(a, src)
	}
}

func insertionSort(a []uint64, mask uint64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j]&mask < a[j-1]&mask; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
