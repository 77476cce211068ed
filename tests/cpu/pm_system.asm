; tests/cpu/pm_system.asm - protected mode from a guest's point of view.
; A Multiboot v1 kernel (a.out kludge, loaded at 1 MiB) for `bt86 test
; kernel`: it builds its own GDT, IDT and TSSs like an OS and checks segment
; loads and their faults (#GP/#NP with error codes), a ring-3 call through a
; call gate with parameter copy and RETF, INT 0x80 from ring 3, a CALL to a
; TSS and the IRET back (NT), an IRET to V86 mode and the #GP out of it,
; LAR/LSL/VERR/VERW, SYSENTER/SYSEXIT, and finally a double fault through a
; task gate (as Linux handles #DF), whose task reports and exits.
; Each check prints "PASS name" or "FAIL name" on port 0xE9; the kernel then
; writes 0 (all passed) or 1 to the isa-debug-exit port 0xF4, so bt86 exits
; with status 1 or 3 (QEMU's (v << 1) | 1 convention).
; Build: nasm -f bin -o pm_system.bin tests/cpu/pm_system.asm
        cpu     686
        bits    32
        org     0x100000

MB_MAGIC equ    0x1BADB002
MB_FLAGS equ    0x00010000          ; address fields valid (a.out kludge)
KSTACK  equ     0x8F000             ; the kernel's own stack
R0STACK equ     0x90000             ; ring-0 stack in the TSS (esp0)
R3STACK equ     0x80000             ; ring-3 stack
T2STACK equ     0x60000
DFSTACK equ     0x70000
V86CODE equ     0x7F000             ; V86 code copied below 1 MiB

mb_header:
        dd      MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
        dd      mb_header, 0x100000, load_end, bss_end, entry

; ---------------------------------------------------------------- macros
%macro  PUTS 1                      ; print a string literal (ring 0 only)
        jmp     %%skip
%%s:    db      %1
%%e:
%%skip: push    esi
        push    ecx
        mov     esi, %%s
        mov     ecx, %%e - %%s
        call    puts
        pop     ecx
        pop     esi
%endmacro
%macro  CHECK 2                     ; name, condition code
        j%+2    %%ok
        PUTS    {"FAIL ", %1, 10}
        inc     dword [failures]
        jmp     %%done
%%ok:   PUTS    {"PASS ", %1, 10}
%%done:
%endmacro
%macro  EXPECT32 3                  ; name, operand, value
        cmp     dword %2, %3
        CHECK   %1, e
%endmacro
%macro  TRY 1                       ; an exception resumes at label %1
        mov     dword [resume], %1
        mov     [resume_esp], esp
%endmacro

; ---------------------------------------------------------------- entry
entry:
        cli
        mov     esp, KSTACK
        lgdt    [gdt_ptr]
        jmp     0x08:.cs_ok
.cs_ok: mov     ax, 0x10
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        xor     ax, ax
        mov     fs, ax
        mov     gs, ax
        ; descriptors whose bases are only known at run time
        mov     edi, gdt + 0x28
        mov     eax, tss_main
        call    set_tss_desc
        mov     edi, gdt + 0x30
        mov     eax, tss_task2
        call    set_tss_desc
        mov     edi, gdt + 0x40
        mov     eax, tss_df
        call    set_tss_desc
        mov     edi, gdt + 0x48             ; call gate, DPL 3, 2 dwords
        mov     eax, ring0_func
        mov     [edi], ax
        mov     word [edi + 2], 0x08
        mov     byte [edi + 4], 2
        mov     byte [edi + 5], 0xEC
        shr     eax, 16
        mov     [edi + 6], ax
        ; IDT: exception stubs, INT 0x80 (DPL 3)
        xor     ebx, ebx
.idt:   mov     eax, [stub_table + ebx * 4]
        mov     dl, 0x8E
        call    set_idt
        inc     ebx
        cmp     ebx, 32
        jb      .idt
        mov     eax, stub_80
        mov     ebx, 0x80
        mov     dl, 0xEE
        call    set_idt
        lidt    [idt_ptr]
        ; TSSs
        mov     dword [tss_main + 4], R0STACK
        mov     dword [tss_main + 8], 0x10
        mov     ax, 0x28
        ltr     ax
        mov     dword [tss_task2 + 0x20], task2_code
        mov     dword [tss_task2 + 0x24], 0x2
        mov     dword [tss_task2 + 0x38], T2STACK
        mov     dword [tss_task2 + 0x4C], 0x08
        mov     dword [tss_task2 + 0x50], 0x10
        mov     dword [tss_task2 + 0x54], 0x10
        mov     dword [tss_task2 + 0x48], 0x10
        mov     dword [tss_df + 0x20], df_code
        mov     dword [tss_df + 0x24], 0x2
        mov     dword [tss_df + 0x38], DFSTACK
        mov     dword [tss_df + 0x4C], 0x08
        mov     dword [tss_df + 0x50], 0x10
        mov     dword [tss_df + 0x54], 0x10
        mov     dword [tss_df + 0x48], 0x10

        ; ---- LTR marked the TSS busy; STR reads it back
        str     eax
        EXPECT32 "ltr-str", eax, 0x28
        mov     al, [gdt + 0x28 + 5]
        and     eax, 0xFF
        EXPECT32 "ltr-busy-bit", eax, 0x8B

        ; ---- MOV SS with a selector beyond the GDT limit: #GP(sel)
        TRY     .t1
        mov     ax, 0x1F8
        mov     ss, ax
        PUTS    {"FAIL mov-ss-no-fault", 10}
        inc     dword [failures]
.t1:    EXPECT32 "mov-ss-gp-vector", [last_vec], 13
        EXPECT32 "mov-ss-gp-error", [last_err], 0x1F8

        ; ---- MOV DS with a not-present descriptor: #NP(sel)
        TRY     .t2
        mov     ax, 0x38
        mov     ds, ax
        PUTS    {"FAIL mov-ds-no-fault", 10}
        inc     dword [failures]
.t2:    EXPECT32 "mov-ds-np-vector", [last_vec], 11
        EXPECT32 "mov-ds-np-error", [last_err], 0x38

        ; ---- null DS is fine; using it is #GP(0)
        TRY     .t2b
        xor     eax, eax
        mov     ds, ax
        mov     eax, [0x1000]
        PUTS    {"FAIL null-ds-no-fault", 10}
        inc     dword [failures]
.t2b:   EXPECT32 "null-ds-gp", [last_vec], 13
        EXPECT32 "null-ds-gp-error", [last_err], 0

        ; ---- ring 3, a call gate with 2 parameters, RETF 8, INT 0x80 back
        TRY     .t3
        push    dword 0x23
        push    dword R3STACK
        push    dword 0x2
        push    dword 0x1B
        push    dword ring3_code
        iret
.t3:    EXPECT32 "int80-vector", [last_vec], 0x80
        EXPECT32 "int80-from-cs", [last_cs], 0x1B
        EXPECT32 "gate-param0", [g_p0], 0x2222
        EXPECT32 "gate-param1", [g_p1], 0x1111
        EXPECT32 "gate-old-cs", [g_cs], 0x1B
        EXPECT32 "gate-old-ss", [g_ss], 0x23
        EXPECT32 "gate-old-esp", [g_esp], R3STACK - 8
        EXPECT32 "gate-cpl0", [g_cpl], 0
        EXPECT32 "gate-new-esp", [g_newesp], R0STACK - 24
        EXPECT32 "retf-result", [r3_eax], 0x600D
        EXPECT32 "retf-imm-esp", [r3_esp], R3STACK
        EXPECT32 "retf-ds-nulled", [r3_ds], 0

        ; ---- CALL to a TSS, IRET back through the link
        mov     dword [t2_ran], 0
        call    0x30:0
        EXPECT32 "task-ran", [t2_ran], 1
        EXPECT32 "task-tr", [t2_tr], 0x30
        EXPECT32 "task-link", [t2_link], 0x28
        mov     eax, [t2_fl]
        and     eax, 0x4000
        EXPECT32 "task-nt", eax, 0x4000
        str     eax
        EXPECT32 "task-back-tr", eax, 0x28
        pushfd
        pop     eax
        and     eax, 0x4000
        EXPECT32 "task-back-nt-clear", eax, 0
        mov     al, [gdt + 0x30 + 5]
        and     eax, 0xFF
        EXPECT32 "task-not-busy", eax, 0x89
        mov     eax, cr0
        and     eax, 8
        EXPECT32 "task-cr0-ts", eax, 8
        clts

        ; ---- IRET to V86 mode; INT n there (IOPL 0) is #GP(0) to ring 0
        mov     word [V86CODE], 0x21CD      ; int 0x21
        TRY     .t5
        push    dword 0                     ; gs
        push    dword 0                     ; fs
        push    dword 0                     ; ds
        push    dword 0                     ; es
        push    dword 0x7000                ; ss
        push    dword 0xFFF0                ; sp
        push    dword 0x00020002            ; VM, IOPL 0
        push    dword V86CODE >> 4          ; cs
        push    dword 0                     ; ip
        iret
.t5:    EXPECT32 "v86-gp-vector", [last_vec], 13
        EXPECT32 "v86-gp-error", [last_err], 0
        EXPECT32 "v86-cs", [last_cs], V86CODE >> 4
        EXPECT32 "v86-ip", [last_eip], 0
        mov     eax, [last_eflags]
        and     eax, 0x20000
        EXPECT32 "v86-vm-pushed", eax, 0x20000

        ; ---- LAR / LSL / VERR / VERW
        mov     ecx, 0x08
        lar     eax, ecx
        CHECK   "lar-zf", z
        EXPECT32 "lar-code", eax, 0x00C09B00
        mov     ecx, 0x48
        lsl     eax, ecx
        CHECK   "lsl-gate-nz", nz
        mov     ecx, 0x10
        lsl     eax, ecx
        EXPECT32 "lsl-flat", eax, 0xFFFFFFFF
        mov     ecx, 0x08
        verw    cx
        CHECK   "verw-code-nz", nz
        verr    cx
        CHECK   "verr-code-z", z
        mov     ecx, 0x23
        verw    cx
        CHECK   "verw-data3-z", z
        mov     ecx, 0x1F8
        verr    cx
        CHECK   "verr-beyond-nz", nz
        mov     ax, 0x10
        mov     cx, 0x1B
        arpl    ax, cx
        CHECK   "arpl-zf", z
        movzx   eax, ax
        EXPECT32 "arpl-rpl", eax, 0x13

        ; ---- SYSENTER / SYSEXIT (SYSENTER_CS = 0x08: 0x10, 0x1B, 0x23 follow)
        mov     ecx, 0x174
        xor     edx, edx
        mov     eax, 0x08
        wrmsr
        inc     ecx
        mov     eax, R0STACK
        wrmsr
        inc     ecx
        mov     eax, sysenter_target
        wrmsr
        TRY     .t7
        push    dword 0x23
        push    dword R3STACK
        push    dword 0x2
        push    dword 0x1B
        push    dword ring3_sysenter
        iret
.t7:    EXPECT32 "sysenter-cs", [s_cs], 0x08
        EXPECT32 "sysenter-ss", [s_ss], 0x10
        EXPECT32 "sysenter-esp", [s_esp], R0STACK
        EXPECT32 "sysexit-cs", [s_cs3], 0x1B
        EXPECT32 "sysexit-ss", [s_ss3], 0x23
        EXPECT32 "sysexit-esp", [s_esp3], R3STACK - 4

        ; ---- double fault through a task gate: #GP gate absent -> #NP -> #DF
        and     byte [idt + 13 * 8 + 5], 0x7F
        mov     edi, idt + 8 * 8
        mov     dword [edi], 0x00400000         ; TSS selector 0x40
        mov     dword [edi + 4], 0x00008500     ; task gate, present
        mov     dword [resume], 0
        xor     eax, eax
        mov     ss, ax                          ; #GP(0)
        PUTS    {"FAIL double-fault-not-taken", 10}
        inc     dword [failures]
        jmp     finish

; ---------------------------------------------------------------- ring 3
ring3_code:
        mov     ax, 0x23
        mov     ds, ax
        mov     es, ax
        push    dword 0x1111
        push    dword 0x2222
        call    0x4B:0                  ; the call gate, RPL 3
        mov     ebx, ds                 ; ring 0 loaded DS=0x10: nulled on return
        mov     cx, 0x23
        mov     ds, cx
        mov     [r3_eax], eax
        mov     [r3_esp], esp
        mov     [r3_ds], ebx
        int     0x80

ring0_func:                             ; [eip][cs][p0][p1][esp][ss]
        mov     ax, 0x10
        mov     ds, ax
        mov     eax, [esp + 8]
        mov     [g_p0], eax
        mov     eax, [esp + 12]
        mov     [g_p1], eax
        mov     eax, [esp + 4]
        mov     [g_cs], eax
        mov     eax, [esp + 16]
        mov     [g_esp], eax
        mov     eax, [esp + 20]
        mov     [g_ss], eax
        mov     [g_newesp], esp
        mov     eax, cs
        and     eax, 3
        mov     [g_cpl], eax
        mov     eax, 0x600D
        retf    8

ring3_sysenter:
        mov     ax, 0x23
        mov     ds, ax
        push    dword 0                 ; esp after: R3STACK - 4
        mov     ecx, esp
        mov     edx, .back
        sysenter
.back:  mov     eax, cs
        mov     [s_cs3], eax
        mov     eax, ss
        mov     [s_ss3], eax
        mov     [s_esp3], esp
        int     0x80

sysenter_target:
        mov     ax, 0x10
        mov     ds, ax
        mov     eax, cs
        mov     [s_cs], eax
        mov     eax, ss
        mov     [s_ss], eax
        mov     [s_esp], esp
        mov     ax, 0x23
        mov     ds, ax
        sysexit

; ---------------------------------------------------------------- tasks
task2_code:
        mov     dword [t2_ran], 1
        str     eax
        mov     [t2_tr], eax
        movzx   eax, word [tss_task2]
        mov     [t2_link], eax
        pushfd
        pop     dword [t2_fl]
        iret
        jmp     task2_code

df_code:                                ; the double-fault task
        pop     eax                     ; error code
        push    eax
        cmp     eax, 0
        CHECK   "double-fault-error-0", e
        str     eax
        EXPECT32 "double-fault-task-tr", eax, 0x40
        movzx   eax, word [tss_df]
        EXPECT32 "double-fault-link", eax, 0x28
finish:
        cmp     dword [failures], 0
        jne     .bad
        PUTS    {"PASS pm-system-all", 10}
        mov     al, 0
        out     0xF4, al
        jmp     .halt
.bad:   mov     al, 1
        out     0xF4, al
.halt:  cli
        hlt
        jmp     .halt

; ---------------------------------------------------------------- exceptions
%assign v 0
%rep 32
stub_ %+ v:
  %if v == 8 || (v >= 10 && v <= 14) || v == 17
        push    dword v
  %else
        push    dword 0
        push    dword v
  %endif
        jmp     exc_common
%assign v v + 1
%endrep
stub_80:
        push    dword 0
        push    dword 0x80
exc_common:                             ; [vec][err][eip][cs][eflags]...
        mov     ax, 0x10
        mov     ds, ax
        mov     es, ax
        pop     dword [last_vec]
        pop     dword [last_err]
        mov     eax, [esp]
        mov     [last_eip], eax
        mov     eax, [esp + 4]
        mov     [last_cs], eax
        mov     eax, [esp + 8]
        mov     [last_eflags], eax
        mov     eax, [resume]
        test    eax, eax
        jz      .fatal
        mov     dword [resume], 0
        mov     esp, [resume_esp]
        jmp     eax
.fatal: PUTS    {"FAIL unexpected-exception", 10}
        inc     dword [failures]
        jmp     finish

stub_table:
%assign v 0
%rep 32
        dd      stub_ %+ v
%assign v v + 1
%endrep

; ---------------------------------------------------------------- helpers
puts:                                   ; ECX bytes at ESI to port 0xE9
        push    eax
        push    edx
        mov     dx, 0xE9
.l:     lodsb
        out     dx, al
        loop    .l
        pop     edx
        pop     eax
        ret

set_tss_desc:                           ; EDI = GDT entry, EAX = base
        mov     word [edi], 0x67
        mov     [edi + 2], ax
        shr     eax, 16
        mov     [edi + 4], al
        mov     byte [edi + 5], 0x89
        mov     byte [edi + 6], 0
        mov     [edi + 7], ah
        ret

set_idt:                                ; EBX = vector, EAX = handler, DL = type
        lea     edi, [idt + ebx * 8]
        mov     [edi], ax
        mov     word [edi + 2], 0x08
        mov     byte [edi + 4], 0
        mov     [edi + 5], dl
        push    eax
        shr     eax, 16
        mov     [edi + 6], ax
        pop     eax
        ret

; ---------------------------------------------------------------- data
        align   8
gdt:    dq      0
        dq      0x00CF9A000000FFFF      ; 0x08 ring-0 code
        dq      0x00CF92000000FFFF      ; 0x10 ring-0 data
        dq      0x00CFFA000000FFFF      ; 0x18 ring-3 code
        dq      0x00CFF2000000FFFF      ; 0x20 ring-3 data
        dq      0                       ; 0x28 TSS main (filled in)
        dq      0                       ; 0x30 TSS task 2
        dq      0x00CF12000000FFFF      ; 0x38 data, not present
        dq      0                       ; 0x40 TSS double fault
        dq      0                       ; 0x48 call gate
gdt_end:
gdt_ptr:
        dw      gdt_end - gdt - 1
        dd      gdt
idt_ptr:
        dw      256 * 8 - 1
        dd      idt

failures:   dd  0
resume:     dd  0
resume_esp: dd  0
last_vec:   dd  0
last_err:   dd  0
last_eip:   dd  0
last_cs:    dd  0
last_eflags: dd 0
g_p0:       dd  0
g_p1:       dd  0
g_cs:       dd  0
g_ss:       dd  0
g_esp:      dd  0
g_newesp:   dd  0
g_cpl:      dd  -1
r3_eax:     dd  0
r3_esp:     dd  0
r3_ds:      dd  -1
t2_ran:     dd  0
t2_tr:      dd  0
t2_link:    dd  0
t2_fl:      dd  0
s_cs:       dd  0
s_ss:       dd  0
s_esp:      dd  0
s_cs3:      dd  0
s_ss3:      dd  0
s_esp3:     dd  0

        align   16
tss_main:   times 0x68 db 0
tss_task2:  times 0x68 db 0
tss_df:     times 0x68 db 0
        align   8
idt:        times 256 * 8 db 0
load_end:
bss_end:
