; tests/cpu/int32.asm - 32-bit operand and address forms and the 0F
; opcodes, in real mode through 0x66/0x67 prefixes (nasm emits them).
%include "lib.inc"

entry:
        START
        ; --- 32-bit ALU and flags
        mov     eax, 0x7FFFFFFF
        add     eax, 1
        jo      .of_ok
        PUTS    {"FAIL add32-of", 10}
        jmp     .of_done
.of_ok: EXPECT32 "add32-result", eax, 0x80000000
.of_done:
        mov     eax, 0xFFFFFFFF
        mov     ebx, 0x00000002
        mul     ebx                         ; edx:eax = 0x1_FFFFFFFE
        EXPECT32 "mul32-lo", eax, 0xFFFFFFFE
        EXPECT32 "mul32-hi", edx, 1
        mov     edx, 1
        mov     eax, 0
        mov     ecx, 3
        div     ecx                         ; 0x100000000 / 3
        EXPECT32 "div32-q", eax, 0x55555555
        EXPECT32 "div32-r", edx, 1
        mov     eax, -7
        cdq
        mov     ecx, 2
        idiv    ecx
        EXPECT32 "idiv32-q", eax, -3
        EXPECT32 "idiv32-r", edx, -1
        mov     ecx, 1000
        imul    eax, ecx, -3                ; 3-operand imul
        EXPECT32 "imul3", eax, -3000
        imul    eax, eax, 100000
        EXPECT32 "imul3-big", eax, -300000000
        mov     eax, 0x10000
        imul    eax, eax                    ; overflow: CF=OF=1, low 0
        jc      .imc
        PUTS    {"FAIL imul2-cf", 10}
.imc:   EXPECT32 "imul2-lo", eax, 0
        ; --- MOVZX / MOVSX
        mov     ebx, 0x1234FF80
        movzx   eax, bl
        EXPECT32 "movzx-b", eax, 0x80
        movsx   eax, bl
        EXPECT32 "movsx-b", eax, 0xFFFFFF80
        movsx   eax, bx
        EXPECT32 "movsx-w", eax, 0xFFFFFF80
        movzx   eax, bx
        EXPECT32 "movzx-w", eax, 0xFF80
        ; --- BT family, BSF/BSR
        mov     eax, 0x00008001
        bt      eax, 15
        CHECK   "bt-set", c
        bts     eax, 4
        EXPECT32 "bts", eax, 0x00008011
        btr     eax, 0
        EXPECT32 "btr", eax, 0x00008010
        btc     eax, 31
        EXPECT32 "btc", eax, 0x80008010
        mov     dword [0x500], 0
        mov     dword [0x504], 0
        mov     ecx, 35
        bts     dword [0x500], ecx          ; bit 35 -> byte 0x504 bit 3
        EXPECT32 "bts-mem-offset", [0x504], 8
        mov     ecx, -1
        bts     dword [0x504], ecx          ; bit -1 -> byte 0x503 bit 7 (dword at 0x500 bit 31)
        EXPECT32 "bts-mem-negative", [0x500], 0x80000000
        mov     eax, 0x00F00000
        bsf     ecx, eax
        EXPECT32 "bsf", ecx, 20
        bsr     ecx, eax
        EXPECT32 "bsr", ecx, 23
        mov     ecx, 0x55
        xor     eax, eax
        bsf     ecx, eax
        CHECK   "bsf-zero-zf", z
        EXPECT32 "bsf-zero-keeps-dest", ecx, 0x55
        ; --- SHLD / SHRD
        mov     eax, 0x12345678
        mov     ebx, 0x9ABCDEF0
        shld    eax, ebx, 8
        EXPECT32 "shld", eax, 0x3456789A
        mov     cl, 12
        shrd    eax, ebx, cl
        EXPECT32 "shrd", eax, 0xEF034567
        ; --- CMOVcc / SETcc
        mov     eax, 1
        mov     ebx, 2
        cmp     eax, ebx
        cmovl   eax, ebx
        EXPECT32 "cmovl", eax, 2
        cmovg   eax, ecx
        EXPECT32 "cmovg-not", eax, 2
        cmp     eax, 2
        sete    dl
        setne   dh
        EXPECT16 "setcc", dx, 0x0001
        ; --- CMPXCHG / CMPXCHG8B / XADD / BSWAP
        mov     dword [0x510], 5
        mov     eax, 5
        mov     ecx, 9
        cmpxchg [0x510], ecx
        CHECK   "cmpxchg-zf", z
        EXPECT32 "cmpxchg-stored", [0x510], 9
        mov     eax, 1
        cmpxchg [0x510], ecx
        EXPECT32 "cmpxchg-loaded", eax, 9
        mov     dword [0x520], 0x11111111
        mov     dword [0x524], 0x22222222
        mov     eax, 0x11111111
        mov     edx, 0x22222222
        mov     ebx, 0xAAAAAAAA
        mov     ecx, 0xBBBBBBBB
        cmpxchg8b [0x520]
        CHECK   "cmpxchg8b-zf", z
        EXPECT32 "cmpxchg8b-hi", [0x524], 0xBBBBBBBB
        mov     eax, 10
        mov     dword [0x530], 32
        xadd    [0x530], eax
        EXPECT32 "xadd-mem", [0x530], 42
        EXPECT32 "xadd-reg", eax, 32
        mov     eax, 0x11223344
        bswap   eax
        EXPECT32 "bswap", eax, 0x44332211
        ; --- string ops under 0x67 (32-bit address size)
        mov     esi, 0x600
        mov     edi, 0x700
        mov     dword [0x600], 0xDEADBEEF
        mov     dword [0x604], 0xCAFEF00D
        mov     ecx, 2
        cld
        a32 rep movsd
        EXPECT32 "movsd-a32-1", [0x700], 0xDEADBEEF
        EXPECT32 "movsd-a32-2", [0x704], 0xCAFEF00D
        EXPECT32 "movsd-a32-esi", esi, 0x608
        mov     edi, 0x700
        mov     eax, 0xCAFEF00D
        mov     ecx, 4
        a32 repne scasd
        EXPECT32 "scasd-a32-ecx", ecx, 2
        EXPECT32 "scasd-a32-edi", edi, 0x708
        std
        mov     edi, 0x70C
        mov     eax, 0x01020304
        mov     ecx, 2
        a32 rep stosd
        cld
        EXPECT32 "stosd-std", [0x708], 0x01020304
        EXPECT32 "stosd-std-edi", edi, 0x704
        ; --- 32-bit addressing with SIB in real mode
        mov     ebx, 0x400
        mov     ecx, 0x10
        mov     dword [ebx+ecx*4+8], 0x5A5A5A5A
        EXPECT32 "sib-store", [0x448], 0x5A5A5A5A
        lea     eax, [ebx+ecx*8+0x100]
        EXPECT32 "lea-sib", eax, 0x580
        ; --- 32-bit push/pop and enter/leave
        mov     eax, 0xA1B2C3D4
        push    eax
        pop     ebx
        EXPECT32 "push-pop32", ebx, 0xA1B2C3D4
        mov     ebp, 0x6F00
        enter   8, 0
        EXPECT16 "enter-bp", bp, 0x6FFE
        leave
        EXPECT16 "leave-bp", bp, 0x6F00
        jmp     finish

        RESET_VECTOR
