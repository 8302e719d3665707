module aotkvs/bench/go-peer

go 1.19
