; tests/boot/cd-test.asm - an El Torito no-emulation boot image of ours
; (tests/boot/run-bios.sh puts it on an ISO made by mkiso.py): checks the
; boot drive number, the spec packet (int 13h AX=4B01h), EDD 41h/48h on the
; CD drive and a 2048-byte sector read (42h) of the primary volume
; descriptor; PASS/FAIL lines on port E9h, then ACPI S5 (bt86 exits 0).
        cpu     686
        bits    16
        org     0x7C00
start:  cli
        xor     ax, ax
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     sp, 0x7C00
        sti
        cld
        mov     [drive], dl
        cmp     dl, 0xE0
        mov     si, n_drive
        call    check
        mov     ax, 0x4B01
        mov     si, spec
        mov     dl, [drive]
        int     0x13
        jc      .f1
        cmp     byte [spec + 2], 0xE0
        jne     .f1
        cmp     byte [spec + 1], 0      ; no emulation
.f1:    mov     si, n_spec
        call    check
        mov     ah, 0x41
        mov     bx, 0x55AA
        mov     dl, [drive]
        int     0x13
        jc      .f2
        cmp     bx, 0xAA55
.f2:    mov     si, n_41
        call    check
        mov     word [params], 26
        mov     ah, 0x48
        mov     si, params
        mov     dl, [drive]
        int     0x13
        jc      .f3
        cmp     word [params + 24], 2048
.f3:    mov     si, n_48
        call    check
        mov     ah, 0x42
        mov     si, dap
        mov     dl, [drive]
        int     0x13
        jc      .f4
        cmp     dword [0x1000 + 1], 'CD00'
        jne     .f4
        cmp     word [dap + 2], 1
.f4:    mov     si, n_42
        call    check
        mov     si, n_done
        call    puts
        mov     dx, 0x604               ; ACPI S5 (devices/acpi.h: SLP_TYP 5) -> bt86 exits 0
        mov     ax, (5 << 10) | 0x2000
        out     dx, ax
        cli
        hlt
; ZF set: PASS, else FAIL; SI = name
check:  jnz     .bad
        push    si
        mov     si, s_pass
        call    puts
        jmp     .n
.bad:   push    si
        mov     si, s_fail
        call    puts
.n:     pop     si
        call    puts
        mov     al, 10
        out     0xE9, al
        ret
puts:   lodsb
        test    al, al
        jz      .d
        out     0xE9, al
        jmp     puts
.d:     ret
s_pass: db      "PASS cd_", 0
s_fail: db      "FAIL cd_", 0
n_drive: db     "boot_drive_e0", 0
n_spec: db      "int13_4b01_spec_packet", 0
n_41:   db      "int13_41_ext_present", 0
n_48:   db      "int13_48_2048_byte_sectors", 0
n_42:   db      "int13_42_read_pvd", 0
n_done: db      "cd test done", 10, 0
drive:  db      0
spec:   times   0x13 db 0
params: times   26 db 0
dap:    db      16, 0
        dw      1
        dw      0x1000, 0
        dq      16
        times   2048 - ($ - $$) db 0
