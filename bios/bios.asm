; bios/bios.asm - bt86's own BIOS (placeholder until issue 6 lands):
; reports on the debug port that it cannot boot yet and halts.
        cpu     686
        bits    16
        org     0
start:  cli
        mov     si, msg
        mov     dx, 0xE9
.l:     cs lodsb
        test    al, al
        jz      .done
        out     dx, al
        jmp     .l
.done:  hlt
        jmp     .done
msg:    db      "bt86 BIOS: booting is not implemented yet", 10, 0
        times   0xFFF0 - ($ - $$) db 0xFF
        jmp     0xF000:start
        times   0x10000 - ($ - $$) db 0xFF
