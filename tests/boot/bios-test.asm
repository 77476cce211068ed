; tests/boot/bios-test.asm - a disk image whose MBR exercises our BIOS's
; services and prints PASS/FAIL lines on port E9h (run-bios.sh builds it
; with -DRAM_MB=, -DYEAR=, -DMONTH=, -DDAY=, -DHOUR= in BCD from the host).
; Sector 0 loads sectors 1-16 with int 13h AH=02h; sectors 20-21 hold a
; pattern for the EDD reads; LBA 30 is written and read back. At the end it
; powers the machine off through ACPI S5 (found via the RSDP); if that does
; not happen it writes exit status 3 to port F4h.
        cpu     686
        bits    16
        org     0x7C00

%define SECTORS 16
mbr:    cli
        xor     ax, ax
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     sp, 0x7C00
        sti
        mov     [boot_drive], dl
        mov     ax, 0x0200 + SECTORS
        mov     cx, 0x0002
        mov     dh, 0
        mov     bx, 0x7E00
        int     0x13
        jc      .bad
        cmp     dword [main_sig], 'MAIN'
        jne     .bad
        jmp     main
.bad:   mov     si, msg_load
.p:     lodsb
        test    al, al
        jz      .x
        out     0xE9, al
        jmp     .p
.x:     mov     al, 1
        out     0xF4, al
        hlt
msg_load: db    "FAIL int13_02_load_sectors", 10, 0
boot_drive: db  0
        times   510 - ($ - $$) db 0
        dw      0xAA55

; ---------------------------------------------------------------- sectors 1..
main_sig: db    "MAIN"

%macro CHECK 2                          ; condition (PASS when true), name
        j%-1    %%bad
        mov     si, %%name
        call    pass
        jmp     %%done
%%bad:  mov     si, %%name
        call    fail
        jmp     %%done
%%name: db      %2, 0
%%done:
%endmacro

puts:   push    ax
.l:     lodsb
        test    al, al
        jz      .d
        out     0xE9, al
        jmp     .l
.d:     pop     ax
        ret
pass:   push    si
        mov     si, s_pass
        call    puts
        pop     si
        call    puts
        mov     al, 10
        out     0xE9, al
        ret
fail:   push    si
        mov     si, s_fail
        call    puts
        pop     si
        call    puts
        mov     al, 10
        out     0xE9, al
        ret
s_pass: db      "PASS bios_", 0
s_fail: db      "FAIL bios_", 0

main:
        cld
        ; ---- int 13h
        CHECK   e, "int13_02_chs_read"          ; we got here
        mov     ah, 0x41
        mov     bx, 0x55AA
        mov     dl, 0x80
        int     0x13
        jc      .e41
        cmp     bx, 0xAA55
        jne     .e41
        test    cl, 1
        jz      .e41
        mov     byte [okf], 1
.e41:   call    take_ok
        CHECK   z, "int13_41_edd_present"

        mov     si, dap
        mov     ah, 0x42
        mov     dl, 0x80
        int     0x13
        jc      .e42
        cmp     dword [0x1000], 'LBA2'
        jne     .e42
        cmp     dword [0x1000 + 512], 'LBA2'
        jne     .e42
        cmp     byte [0x1000 + 512 + 4], '1'
        jne     .e42
        mov     byte [okf], 1
.e42:   call    take_ok
        CHECK   z, "int13_42_ext_read"

        mov     si, edd_params
        mov     word [si], 30
        mov     ah, 0x48
        mov     dl, 0x80
        int     0x13
        jc      .e48
        cmp     dword [edd_params + 16], 16384  ; 8 MiB image
        jne     .e48
        cmp     word [edd_params + 24], 512
        jne     .e48
        mov     byte [okf], 1
.e48:   call    take_ok
        CHECK   z, "int13_48_params"

        mov     ah, 0x08
        mov     dl, 0x80
        int     0x13
        jc      .e08
        cmp     dl, NHD
        jne     .e08
        and     cl, 0x3F
        cmp     cl, 63
        jne     .e08
        mov     byte [okf], 1
.e08:   call    take_ok
        CHECK   z, "int13_08_params"

%if NHD > 1
        ; the second disk (81h: the same image attached as hdb)
        mov     word [dap + 2], 1
        mov     word [dap + 4], 0x1000
        mov     dword [dap + 8], 21
        mov     dword [0x1000], 0
        mov     si, dap
        mov     ah, 0x42
        mov     dl, 0x81
        int     0x13
        jc      .e81
        cmp     dword [0x1000], 'LBA2'
        jne     .e81
        cmp     byte [0x1004], '1'
        jne     .e81
        mov     byte [okf], 1
.e81:   call    take_ok
        CHECK   z, "int13_42_second_disk_81h"
        mov     word [dap + 2], 2
        mov     word [dap + 4], 0x1000
        mov     dword [dap + 8], 20
%endif
        ; write LBA 30 with 43h, read back with 42h
        mov     di, 0x2000
        mov     cx, 256
        mov     ax, 0x5A3C
        rep     stosw
        mov     word [dap + 2], 1
        mov     word [dap + 4], 0x2000
        mov     dword [dap + 8], 30
        mov     si, dap
        mov     ax, 0x4300
        mov     dl, 0x80
        int     0x13
        jc      .e43
        mov     word [dap + 4], 0x3000
        mov     si, dap
        mov     ah, 0x42
        mov     dl, 0x80
        int     0x13
        jc      .e43
        mov     si, 0x2000
        mov     di, 0x3000
        mov     cx, 256
        repe    cmpsw
        jne     .e43
        mov     byte [okf], 1
.e43:   call    take_ok
        CHECK   z, "int13_43_write_readback"

        mov     ah, 0x02                ; read from a drive that does not exist
        mov     al, 1
        mov     cx, 1
        mov     dx, 0x0085
        mov     bx, 0x2000
        int     0x13
        CHECK   c, "int13_missing_drive_error"

        ; ---- int 15h AH=87h: 512 bytes to 3 MiB and back (protected mode)
        mov     si, 0x2000
        mov     cx, 256
.pat:   mov     [si], si
        add     si, 2
        loop    .pat
        mov     word [gdt87 + 0x10], 0xFFFF
        mov     word [gdt87 + 0x18], 0xFFFF
        mov     dword [gdt87 + 0x12], 0x93002000        ; source 0x002000
        mov     dword [gdt87 + 0x1A], 0x93300000        ; dest   0x300000
        mov     si, gdt87
        mov     ah, 0x87
        mov     cx, 256
        int     0x15
        jc      .m87
        mov     dword [gdt87 + 0x12], 0x93300000
        mov     dword [gdt87 + 0x1A], 0x93004000
        mov     si, gdt87
        mov     ah, 0x87
        mov     cx, 256
        int     0x15
        jc      .m87
        mov     si, 0x2000
        mov     di, 0x4000
        mov     cx, 256
        repe    cmpsw
        jne     .m87
        mov     ax, ss                  ; the BIOS restored the real-mode segments
        test    ax, ax
        jnz     .m87
        mov     byte [okf], 1
.m87:   call    take_ok
        CHECK   z, "int15_87_block_move"

        ; ---- keyboard: scan codes through the 8042 (command D2h) -> int 09h -> int 16h
        mov     al, 0x1E                ; 'a' make
        call    kbd_inject
        mov     al, 0x9E
        call    kbd_inject
        mov     al, 0x2A                ; shift + 'a'
        call    kbd_inject
        mov     al, 0x1E
        call    kbd_inject
        mov     al, 0x9E
        call    kbd_inject
        mov     al, 0xAA
        call    kbd_inject
        mov     ah, 0x00
        int     0x16
        mov     bx, ax
        mov     ah, 0x00
        int     0x16
        cmp     bx, 0x1E61
        jne     .kb
        cmp     ax, 0x1E41
        jne     .kb
        mov     byte [okf], 1
.kb:    call    take_ok
        CHECK   z, "int09_int16_keys_from_8042"

        ; ---- int 12h, 11h
        int     0x12
        cmp     ax, 636
        CHECK   e, "int12_base_memory"
        int     0x11
        and     ax, 0x30
        cmp     ax, 0x20
        CHECK   e, "int11_equipment_video"

        ; ---- int 15h E820
        xor     ebx, ebx
        xor     ebp, ebp                ; EBP = RAM above 1 MiB (bytes)
        mov     byte [e820_bad], 0
        mov     byte [e820_n], 0
.e820:  mov     eax, 0xE820
        mov     ecx, 20
        mov     edx, 0x534D4150
        mov     di, e820_ent
        int     0x15
        jc      .e820bad
        cmp     eax, 0x534D4150
        jne     .e820bad
        inc     byte [e820_n]
        cmp     dword [e820_ent + 16], 1
        jne     .notram
        mov     eax, [e820_ent]
        cmp     eax, 0
        jne     .hi
        cmp     dword [e820_ent + 8], 0x9F000
        jb      .e820bad
        cmp     dword [e820_ent + 8], 0xA0000
        ja      .e820bad
        jmp     .next
.hi:    cmp     eax, 0x100000
        jb      .e820bad                ; RAM in the hole
        add     ebp, [e820_ent + 8]
        jmp     .next
.notram:
.next:  test    ebx, ebx
        jnz     .e820
        cmp     ebp, (RAM_MB - 1) << 20
        jne     .e820bad
        cmp     byte [e820_n], 4
        jb      .e820bad
        mov     byte [okf], 1
.e820bad:
.e820done:
        call    take_ok
        CHECK   z, "int15_e820_map"

        mov     ax, 0xE801
        int     0x15
        jc      .e801
        cmp     ax, 15 * 1024
        jne     .e801
        cmp     bx, (RAM_MB - 16) * 16
        jne     .e801
        mov     byte [okf], 1
.e801:  call    take_ok
        CHECK   z, "int15_e801"

        mov     ah, 0x88
        int     0x15
        cmp     ax, (RAM_MB - 1) * 1024
        CHECK   e, "int15_88_ext_memory"

        mov     ax, 0x2403
        int     0x15
        jc      .a20
        mov     ax, 0x2401
        int     0x15
        jc      .a20
        mov     ax, 0x2402
        int     0x15
        cmp     al, 1
        jne     .a20
        mov     byte [okf], 1
.a20:   call    take_ok
        CHECK   z, "int15_a20"

        mov     ah, 0xC0
        int     0x15
        jc      .c0
        cmp     byte [es:bx + 2], 0xFC
        jne     .c0
        mov     byte [okf], 1
.c0:    push    0
        pop     es
        call    take_ok
        CHECK   z, "int15_c0_config"

        ; ---- int 1Ah: date/time vs the host, ticks advance
        mov     ah, 0x04
        int     0x1A
        jc      .date
        cmp     cx, YEAR
        jne     .date
        cmp     dh, MONTH
        jne     .date
        cmp     dl, DAY
        jne     .date
        mov     byte [okf], 1
.date:  call    take_ok
        CHECK   z, "int1a_04_date_matches_host"
        mov     ah, 0x02
        int     0x1A
        jc      .time
        cmp     ch, HOUR
        je      .tok
        cmp     ch, HOUR2
        jne     .time
.tok:   cmp     cl, 0x59
        ja      .time
        cmp     dh, 0x59
        ja      .time
        mov     byte [okf], 1
.time:  call    take_ok
        CHECK   z, "int1a_02_time_matches_host"
        mov     ah, 0x00
        int     0x1A
        mov     si, dx
        mov     ah, 0x86                ; wait 200 ms (int 15h 86h)
        mov     cx, 3
        mov     dx, 0x0D40
        int     0x15
        mov     ah, 0x00
        int     0x1A
        sub     dx, si
        mov     [ticks86], dx
        cmp     dx, 2
        CHECK   ae, "int1a_00_ticks_advance"
        cmp     word [ticks86], 6       ; 200 ms is 3.6 ticks: 3 to 5 expected
        CHECK   be, "int15_86_wait_not_too_long"

        ; ---- PCI BIOS
        mov     ax, 0xB101
        int     0x1A
        jc      .p1
        cmp     edx, 0x20494350
        jne     .p1
        mov     byte [okf], 1
.p1:    call    take_ok
        CHECK   z, "int1a_b101_pci_present"
        mov     ax, 0xB102
        mov     cx, 0x7010
        mov     dx, 0x8086
        xor     si, si
        int     0x1A
        jc      .p2
        cmp     bx, 0x0009
        jne     .p2
        mov     ax, 0xB10A
        mov     di, 0x20                ; BAR4: bus-master DMA
        int     0x1A
        jc      .p2
        test    cl, 1
        jz      .p2
        cmp     ecx, 1
        je      .p2
        mov     byte [okf], 1
.p2:    call    take_ok
        CHECK   z, "int1a_b102_b10a_piix_ide_bar4"

        ; ---- int 10h
        mov     ah, 0x0F
        int     0x10
        cmp     al, 3
        CHECK   e, "int10_0f_mode3"
        mov     ah, 0x02
        xor     bh, bh
        mov     dx, 0x0A05
        int     0x10
        mov     ax, 0x0E00 + 'Q'
        mov     bx, 0x0007
        int     0x10
        mov     ah, 0x03
        xor     bh, bh
        int     0x10
        cmp     dx, 0x0A06
        jne     .tty
        mov     ah, 0x02
        mov     dx, 0x0A05
        int     0x10
        mov     ah, 0x08
        int     0x10
        cmp     al, 'Q'
        jne     .tty
        mov     byte [okf], 1
.tty:   call    take_ok
        CHECK   z, "int10_0e_teletype"
        mov     ax, 0x4F00
        mov     di, 0x3000
        int     0x10
        cmp     ax, 0x004F
        jne     .vbe
        cmp     dword [0x3000], 'VESA'
        jne     .vbe
        mov     ax, 0x4F01
        mov     cx, 0x118
        mov     di, 0x3200
        int     0x10
        cmp     ax, 0x004F
        jne     .vbe
        cmp     byte [0x3200 + 25], 32
        jne     .vbe
        cmp     word [0x3200 + 18], 1024
        jne     .vbe
        mov     byte [okf], 1
.vbe:   call    take_ok
        CHECK   z, "int10_vbe_info"
        mov     ax, 0x4F02              ; 1024x768x32 with the LFB, then read DISPI back
        mov     bx, 0x4118
        int     0x10
        cmp     ax, 0x004F
        jne     .vset
        mov     ax, 0x4F03
        int     0x10
        cmp     bx, 0x118
        jne     .vset
        mov     dx, 0x1CE
        mov     ax, 1
        out     dx, ax
        inc     dx
        in      ax, dx
        cmp     ax, 1024
        jne     .vset
        dec     dx
        mov     ax, 3
        out     dx, ax
        inc     dx
        in      ax, dx
        cmp     ax, 32
        jne     .vset
        mov     byte [okf], 1
.vset:  mov     ax, 0x0003
        int     0x10
        call    take_ok
        CHECK   z, "int10_vbe_4f02_4f03_dispi"
        mov     ax, 0x0013
        int     0x10
        mov     ah, 0x0F
        int     0x10
        push    ax
        mov     ax, 0x0003
        int     0x10
        pop     ax
        cmp     al, 0x13
        CHECK   e, "int10_mode13"

        ; ---- int 16h: empty buffer, then a stored key
        mov     ah, 0x01
        int     0x16
        CHECK   z, "int16_01_empty"
        mov     ah, 0x05
        mov     cx, 0x1E61
        int     0x16
        mov     ah, 0x00
        int     0x16
        cmp     ax, 0x1E61
        CHECK   e, "int16_05_00_roundtrip"

        ; ---- ACPI: RSDP in the EBDA (first KiB) or E0000-FFFFF
        push    ds
        mov     ax, [0x40E]
        mov     es, ax
        xor     di, di
        mov     cx, 64
.rs:    cmp     dword [es:di], 'RSD '
        jne     .rsn
        cmp     dword [es:di + 4], 'PTR '
        je      .rsfound
.rsn:   add     di, 16
        loop    .rs
        pop     ds
        mov     si, n_rsdp
        call    fail
        jmp     acpi_done
.rsfound:
        pop     ds
        mov     cx, 20
        call    sum_esdi
        CHECK   z, "acpi_rsdp_checksum"
        mov     eax, [es:di + 16]       ; RSDT (physical, below 1 MiB here)
        call    phys_to_esdi
        cmp     dword [es:di], 'RSDT'
        CHECK   e, "acpi_rsdt_signature"
        mov     cx, [es:di + 4]
        call    sum_esdi
        CHECK   z, "acpi_rsdt_checksum"
        mov     eax, [es:di + 36]
        call    phys_to_esdi
        cmp     dword [es:di], 'FACP'
        CHECK   e, "acpi_fadt_signature"
        mov     cx, [es:di + 4]
        call    sum_esdi
        CHECK   z, "acpi_fadt_checksum"
        cmp     word [es:di + 46], 9
        CHECK   e, "acpi_fadt_sci_irq9"
        mov     eax, [es:di + 64]
        mov     [pm1a_cnt], ax
        test    ax, ax
        CHECK   nz, "acpi_fadt_pm1a_cnt"
        mov     eax, [es:di + 76]
        mov     [pm_tmr], ax
        mov     eax, [es:di + 40]
        call    phys_to_esdi
        cmp     dword [es:di], 'DSDT'
        CHECK   e, "acpi_dsdt_signature"
        mov     cx, [es:di + 4]
        push    cx
        call    sum_esdi
        pop     cx
        CHECK   z, "acpi_dsdt_checksum"
        ; find _S5_ and its first package element (BytePrefix 0Ah value)
        mov     byte [s5_typ], 0xFF
.s5:    cmp     dword [es:di], '_S5_'
        je      .s5f
        inc     di
        loop    .s5
        jmp     .s5d
.s5f:   mov     al, [es:di + 8]         ; 08 "_S5_" 12 len n 0A <val>
        mov     [s5_typ], al
.s5d:   cmp     byte [s5_typ], 0xFF
        CHECK   ne, "acpi_dsdt_s5"
        ; the PM timer runs
        mov     dx, [pm_tmr]
        in      eax, dx
        mov     ebx, eax
        mov     cx, 2000
.tw:    in      eax, dx
        cmp     eax, ebx
        jne     .tr
        loop    .tw
.tr:    cmp     eax, ebx
        CHECK   ne, "acpi_pm_timer_runs"
acpi_done:
        push    0
        pop     es
        ; ---- S5: the machine must power off here
        mov     si, n_off
        call    puts
        movzx   ax, byte [s5_typ]
        and     ax, 7
        shl     ax, 10
        or      ax, 0x2000
        mov     dx, [pm1a_cnt]
        out     dx, ax
        mov     cx, 0xFFFF
.spin:  loop    .spin
        mov     si, n_nooff
        call    fail
        mov     al, 3
        out     0xF4, al
        cli
        hlt

; AL = scan code, delivered as keyboard data through the 8042 (IRQ 1)
kbd_inject:
        push    ax
.w1:    in      al, 0x64
        test    al, 2
        jnz     .w1
        mov     al, 0xD2
        out     0x64, al
.w2:    in      al, 0x64
        test    al, 2
        jnz     .w2
        pop     ax
        out     0x60, al
        sti
        mov     cx, 1000
.w3:    in      al, 0x64                ; wait until int 09h has taken it
        test    al, 1
        jz      .d
        loop    .w3
.d:     ret

; ZF = the test marked success (okf = 1); clears the mark
take_ok:
        cmp     byte [cs:okf], 1
        mov     byte [cs:okf], 0
        ret
okf:    db      0
ticks86: dw     0

; ES:DI table, CX bytes: ZF set when they sum to 0
sum_esdi:
        push    di
        push    cx
        xor     al, al
.s:     add     al, [es:di]
        inc     di
        loop    .s
        pop     cx
        pop     di
        test    al, al
        ret
; EAX physical (< 1 MiB) -> ES:DI
phys_to_esdi:
        mov     di, ax
        and     di, 15
        shr     eax, 4
        mov     es, ax
        ret

n_rsdp: db      "acpi_rsdp_found", 0
n_off:  db      "powering off through ACPI S5", 10, 0
n_nooff: db     "acpi_s5_poweroff", 0
gdt87:  times   48 db 0                 ; int 15h AH=87h descriptor table
        ; (entries 2 and 3 get limit FFFFh below)
dap:    db      16, 0
        dw      2
        dw      0x1000, 0
        dq      20
edd_params: times 30 db 0
e820_ent: times 20 db 0
e820_n: db      0
e820_bad: db    0
pm1a_cnt: dw    0
pm_tmr: dw      0
s5_typ: db      0

        times   (SECTORS + 1) * 512 - ($ - $$) db 0
        times   (20 - SECTORS - 1) * 512 db 0
        db      "LBA20"
        times   512 - 5 db 0
        db      "LBA21"
        times   512 - 5 db 0
