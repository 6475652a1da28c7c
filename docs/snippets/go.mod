module sabong

go 1.13
