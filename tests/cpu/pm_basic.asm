; tests/cpu/pm_basic.asm - protected-mode system test (multiboot kernel):
; our own GDT and far jump, IDT with interrupt and trap gates, INT n,
; #DE and #GP (with error code) to their handlers, a ring-3 round trip
; through a TSS stack switch, paging with a #PF handler that maps the page
; and retries (CR2 and error code checked).
%include "kernel.inc"

kstart:
        mov     esp, stack_top
        lgdt    [gdt_desc]
        jmp     0x08:.reload
.reload:
        mov     ax, 0x10
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     fs, ax
        mov     gs, ax
        mov     eax, cs
        EXPECT32 "far-jump-cs", eax, 0x08
        ; TSS for the ring-3 -> ring-0 stack switch
        mov     dword [tss + 4], stack_top      ; ESP0
        mov     dword [tss + 8], 0x10           ; SS0
        mov     eax, tss
        mov     [gdt + 0x28 + 2], ax
        shr     eax, 16
        mov     [gdt + 0x28 + 4], al
        mov     [gdt + 0x28 + 7], ah
        mov     ax, 0x28
        ltr     ax
        ; IDT: vectors 0 (#DE), 13 (#GP), 14 (#PF), 0x40 (INT n, DPL 3), 0x41 (back to ring 0)
        mov     edi, 0
        mov     eax, de_handler
        mov     bl, 0x8E
        call    set_gate
        mov     edi, 13
        mov     eax, gp_handler
        call    set_gate
        mov     edi, 14
        mov     eax, pf_handler
        call    set_gate
        mov     edi, 0x40
        mov     eax, int40_handler
        mov     bl, 0xEF                        ; trap gate, DPL 3
        call    set_gate
        mov     edi, 0x41
        mov     eax, int41_handler
        mov     bl, 0xEE                        ; interrupt gate, DPL 3
        call    set_gate
        lidt    [idt_desc]

        ; INT n through a trap gate at CPL 0
        mov     dword [hits], 0
        int     0x40
        EXPECT32 "int-trap-gate", [hits], 1
        ; #DE
        xor     ecx, ecx
        mov     eax, 1
        div     ecx
        EXPECT32 "de-handler", [hits], 2
        ; #GP with an error code: load DS with a selector past the GDT limit
        mov     ax, 0x80
        mov     ds, ax
        mov     ax, 0x10
        mov     ds, ax
        EXPECT32 "gp-error-code", [gp_err], 0x80
        ; ring 3 round trip: IRET to CPL 3, INT 0x41 back (stack switch via TSS)
        push    0x23                            ; user SS (DPL 3 data)
        push    user_stack_top
        pushfd
        push    0x1B                            ; user CS (DPL 3 code)
        push    user_code
        iret
back_in_ring0:
        mov     eax, ds                         ; (reloaded by the handler)
        EXPECT32 "ring3-int-cs", [saved_cs], 0x1B
        EXPECT32 "ring3-int-ss", [saved_ss], 0x23
        EXPECT32 "iret-to-ring3-nulls-ds", [saved_ds], 0
        mov     ax, 0x10
        mov     ds, ax
        mov     es, ax
        ; paging: identity-map the first 4 MiB, leave 0x00400000+ unmapped
        mov     edi, pgdir
        xor     eax, eax
        mov     ecx, 1024
        rep     stosd
        mov     dword [pgdir], pgtab0 + 3
        mov     edi, pgtab0
        mov     eax, 3
        mov     ecx, 1024
.fill:  stosd
        add     eax, 0x1000
        loop    .fill
        mov     dword [pgdir + 4], pgtab1 + 3
        mov     eax, pgdir
        mov     cr3, eax
        mov     eax, cr0
        or      eax, 0x80000000
        mov     cr0, eax
        jmp     .pg
.pg:    mov     dword [0x00401234], 0xFEEDFACE  ; not present -> #PF -> mapped -> retried
        EXPECT32 "pf-retried-write", [0x00401234], 0xFEEDFACE
        EXPECT32 "pf-cr2", [pf_cr2], 0x00401234
        EXPECT32 "pf-error-code", [pf_err], 0x2     ; not present, write, supervisor
        EXPECT32 "pf-count", [pf_count], 1
        jmp     kexit

user_code:
        mov     eax, cs
        mov     ebx, ss
        mov     esi, ds                         ; must be null: IRET to CPL 3 nulls DPL-0 data segments
        int     0x41
        jmp     $                               ; not reached

set_gate:                                       ; edi = vector, eax = handler, bl = type
        lea     edi, [idt + edi * 8]
        mov     [edi], ax
        mov     word [edi + 2], 0x08
        mov     byte [edi + 4], 0
        mov     [edi + 5], bl
        shr     eax, 16
        mov     [edi + 6], ax
        ret

int40_handler:
        inc     dword [hits]
        iret
de_handler:
        inc     dword [hits]
        add     dword [esp], 2                  ; skip the 2-byte DIV
        iret
gp_handler:
        pop     dword [gp_err]
        add     dword [esp], 3                  ; skip "mov ds, ax" (66 8E D8)
        iret
int41_handler:                                  ; from ring 3: frame has SS:ESP
        mov     cx, 0x10                        ; IRET to ring 3 nulled DS (DPL 0 < CPL 3)
        mov     ds, cx
        mov     [saved_cs], eax
        mov     [saved_ss], ebx
        mov     [saved_ds], esi
        add     esp, 20
        jmp     back_in_ring0
pf_handler:
        pop     dword [pf_err]
        push    eax
        mov     eax, cr2
        mov     [pf_cr2], eax
        inc     dword [pf_count]
        mov     dword [pgtab1 + 4], 0x00500000 + 3   ; map 0x401000 -> 0x500000
        pop     eax
        iret

        align   8
gdt:    dq      0
        dq      0x00CF9A000000FFFF              ; 0x08 code, ring 0
        dq      0x00CF92000000FFFF              ; 0x10 data, ring 0
        dq      0x00CFFA000000FFFF              ; 0x18 code, ring 3
        dq      0x00CFF2000000FFFF              ; 0x20 data, ring 3
        dq      0x0000890000000067              ; 0x28 TSS (base patched)
gdt_end:
gdt_desc: dw    gdt_end - gdt - 1
        dd      gdt
idt_desc: dw    0x41 * 8 + 7
        dd      idt
hits:   dd      0
gp_err: dd      0
saved_cs: dd    0
saved_ss: dd    0
saved_ds: dd    0
pf_err: dd      0
pf_cr2: dd      0
pf_count: dd    0

        align   4096
bss_start:
pgdir:  equ     bss_start
pgtab0: equ     bss_start + 0x1000
pgtab1: equ     bss_start + 0x2000
idt:    equ     bss_start + 0x3000
tss:    equ     bss_start + 0x4000
stack_top: equ  bss_start + 0x6000
user_stack_top: equ bss_start + 0x7000
bss_end: equ    bss_start + 0x8000
