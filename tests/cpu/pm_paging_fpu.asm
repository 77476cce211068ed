; tests/cpu/pm_paging_fpu.asm - paging and x87 from a guest (multiboot kernel):
; 4 MiB PSE pages, PAE 2 MiB and 4 KiB pages, #PF error-code bits (P, W/R,
; U/S, RSVD) with CR2, CR0.WP, global pages, and x87 arithmetic checked
; against constants nasm computed at assembly time, plus #MF with CR0.NE=1
; and #NM with CR0.TS.
%include "kernel.inc"

%define PD      0x00200000                  ; 32-bit page directory
%define PT      0x00201000                  ; a page table for 0x00400000
%define PDPT    0x00202000                  ; PAE: PDPT (32-byte aligned)
%define PAEPD0  0x00203000                  ; PAE: PD for 0-1 GiB
%define PAEPT   0x00204000                  ; PAE: PT for 0x00400000-0x005FFFFF

kstart:
        mov     esp, 0x0009F000
        lgdt    [gdt_desc]
        jmp     0x08:.cs
.cs:    mov     ax, 0x10
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        ; IDT: #PF (14), #MF (16), #NM (7)
        mov     eax, pf_handler
        mov     edi, 14
        call    set_gate
        mov     eax, mf_handler
        mov     edi, 16
        call    set_gate
        mov     eax, nm_handler
        mov     edi, 7
        call    set_gate
        lidt    [idt_desc]

        ; ---- 32-bit paging with PSE: identity 0-4 MiB as one 4 MiB page,
        ; 0x00400000: a page table; 0x00800000 -> 4 MiB page at 0x01000000
        mov     edi, PD
        xor     eax, eax
        mov     ecx, 3 * 1024
        rep     stosd                       ; PD and PT cleared (PT follows PD)
        mov     dword [PD + 0], 0x00000083  ; 4 MiB, RW, present
        mov     dword [PD + 4], PT + 7      ; user, RW
        mov     dword [PD + 8], 0x01000083  ; 4 MiB page at 16 MiB
        mov     dword [PT + 0], 0x00500000 + 0x05   ; 0x400000 -> 0x500000 user read-only
        mov     dword [PT + 4], 0x00501000 + 0x03   ; 0x401000 -> supervisor RW
        mov     dword [0x01000010], 0x4D4D4D4D      ; data behind the 4 MiB page
        PSE_PAGING_ON PD
        EXPECT32 "pse-4m-read", [0x00800010], 0x4D4D4D4D
        ; #PF: not present (read) -> err 0, CR2
        mov     dword [pf_count], 0
        mov     eax, [0x00402000]
        EXPECT32 "pf-not-present-err", [pf_err], 0
        EXPECT32 "pf-not-present-cr2", [pf_cr2], 0x00402000
        ; supervisor write to a read-only page: allowed with WP=0, #PF (err 3) with WP=1
        mov     dword [0x00400000], 0x11
        EXPECT32 "wp0-supervisor-write", [pf_count], 1
        mov     eax, cr0
        or      eax, 0x00010000             ; WP
        mov     cr0, eax
        mov     dword [0x00400004], 0x22
        EXPECT32 "wp1-write-err", [pf_err], 3
        EXPECT32 "wp1-write-cr2", [pf_cr2], 0x00400004
        ; ---- PAE: 2 MiB identity page for 0-2 MiB, a 4 KiB page 0x400000 -> 0x600000,
        ; and a PTE with a reserved bit (bit 40) at 0x401000
        mov     eax, cr0
        and     eax, 0x7FFFFFFF
        mov     cr0, eax
        mov     edi, PDPT
        xor     eax, eax
        mov     ecx, 3 * 1024
        rep     stosd
        mov     dword [PDPT + 0], PAEPD0 + 1
        mov     dword [PAEPD0 + 0], 0x00000083              ; 0-2 MiB
        mov     dword [PAEPD0 + 8], 0x00200083              ; 2-4 MiB (the tables live here)
        mov     dword [PAEPD0 + 16], PAEPT + 3              ; 4-6 MiB: page table
        mov     dword [PAEPT + 0], 0x00600000 + 3           ; 0x400000 -> 0x600000
        mov     dword [PAEPT + 8], 0x00601000 + 3
        mov     dword [PAEPT + 12], 0x00000100              ; bit 40: reserved on a P6
        mov     dword [0x00600020], 0x50AE50AE
        mov     eax, cr4
        or      eax, 0x20                   ; PAE
        mov     cr4, eax
        mov     eax, PDPT
        mov     cr3, eax
        mov     eax, cr0
        or      eax, 0x80000000
        mov     cr0, eax
        jmp     .pae
.pae:   EXPECT32 "pae-4k-read", [0x00400020], 0x50AE50AE
        mov     eax, [0x00401000]
        EXPECT32 "pae-rsvd-err", [pf_err], 9        ; P | RSVD
        ; back to no paging for the FPU part
        mov     eax, cr0
        and     eax, 0x7FFFFFFF
        mov     cr0, eax

        ; ---- x87 against constants nasm computed
        finit
        fld     qword [one]
        fdiv    qword [three]
        fstp    qword [result]
        EXPECT32 "fpu-1div3-lo", [result], __float64__(0.33333333333333331) & 0xFFFFFFFF
        EXPECT32 "fpu-1div3-hi", [result + 4], __float64__(0.33333333333333331) >> 32
        fld     qword [two]
        fsqrt
        fmul    st0, st0
        fistp   dword [result]
        EXPECT32 "fpu-sqrt2-squared", [result], 2
        fldpi
        fistp   dword [result]
        EXPECT32 "fpu-pi-rounds-to-3", [result], 3
        fild    dword [int_m7]
        fidiv   dword [int_2]
        fistp   dword [result]               ; -3.5 -> -4 (round to nearest even)
        EXPECT32 "fpu-round-nearest-even", [result], -4
        ; #MF: unmask divide-by-zero, CR0.NE=1, divide by zero, next FPU insn faults
        mov     eax, cr0
        or      eax, 0x20                   ; NE
        mov     cr0, eax
        fninit
        fnstcw  [cw]
        and     word [cw], ~0x0004          ; unmask ZE
        fldcw   [cw]
        fld1
        fldz
        fdivp   st1, st0                    ; ZE pending
        mov     dword [mf_count], 0
        fwait                               ; -> #MF
        EXPECT32 "fpu-mf-delivered", [mf_count], 1
        EXPECT32 "fpu-mf-status-ze", [mf_sw], 1
        fninit
        ; #NM: CR0.TS set -> the next FPU instruction faults; the handler CLTS
        mov     eax, cr0
        or      eax, 8
        mov     cr0, eax
        mov     dword [nm_count], 0
        fld1
        EXPECT32 "fpu-nm-with-ts", [nm_count], 1
        jmp     kexit


pf_handler:
        pop     dword [pf_err]
        push    eax
        mov     eax, cr2
        mov     [pf_cr2], eax
        inc     dword [pf_count]
        ; resolve: read-only -> writable; not present / reserved -> map 0x500000
        mov     eax, [pf_cr2]
        cmp     eax, 0x00400004
        jne     .np
        mov     eax, cr0                    ; let the write through: WP off
        and     eax, ~0x00010000
        mov     cr0, eax
        jmp     .out
.np:    mov     eax, cr4
        test    eax, 0x20
        jnz     .pae
        mov     dword [PT + 8], 0x00500000 + 3          ; map 0x402000
        invlpg  [0x00402000]
        jmp     .out
.pae:   mov     dword [PAEPT + 12], 0                   ; clear the reserved bit
        invlpg  [0x00401000]
.out:   pop     eax
        iret
mf_handler:
        inc     dword [mf_count]
        fnstsw  ax
        and     eax, 0x0004                 ; ZE
        shr     eax, 2
        mov     [mf_sw], eax
        fnclex
        iret
nm_handler:
        inc     dword [nm_count]
        clts
        iret

%include "flat.inc"
idt_desc: dw    17 * 8 - 1
        dd      idt
one:    dq      1.0
two:    dq      2.0
three:  dq      3.0
int_m7: dd      -7
int_2:  dd      2
result: dq      0
cw:     dw      0
pf_err: dd      0
pf_cr2: dd      0
pf_count: dd    0
mf_count: dd    0
mf_sw:  dd      0
nm_count: dd    0
        align   8
idt:    times   17 * 8 db 0
bss_end:
