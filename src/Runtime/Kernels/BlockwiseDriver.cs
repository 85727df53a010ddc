using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace OptGen.Kernels;

/// <summary>
/// Where a launch's state is blockwise-quantized (<see cref="StatePrecision.Int8Blockwise"/>,
/// <see cref="StatePrecision.Int4Blockwise"/>): plane k's codes and absmax for the launch's first element.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly struct BlockwiseArguments
{
    /// <summary>Describes quantized state: the codes of plane k start at <paramref name="codes"/> + k·<paramref name="codeStride"/> bytes.</summary>
    /// <param name="codebooks">One codebook per state plane (all with the same block length).</param>
    /// <param name="codes">The code byte of the launch's first element in plane 0 (a block start).</param>
    /// <param name="codeStride">Bytes between planes' codes.</param>
    /// <param name="absmax">The absmax of the launch's first block in plane 0.</param>
    /// <param name="absmaxStride">Floats between planes' absmax.</param>
    public BlockwiseArguments(BlockwiseCodebook[] codebooks, nint codes, nint codeStride, nint absmax, nint absmaxStride)
    {
        Codebooks = codebooks;
        Codes = codes;
        CodeStride = codeStride;
        Absmax = absmax;
        AbsmaxStride = absmaxStride;
    }

    /// <summary>One codebook per state plane; null when the state is not quantized.</summary>
    public BlockwiseCodebook[]? Codebooks { get; }

    /// <summary>The address of the launch's first code byte in plane 0.</summary>
    public nint Codes { get; }

    /// <summary>Bytes between consecutive planes' codes.</summary>
    public nint CodeStride { get; }

    /// <summary>The address of the launch's first block's absmax in plane 0.</summary>
    public nint Absmax { get; }

    /// <summary>Floats between consecutive planes' absmax.</summary>
    public nint AbsmaxStride { get; }
}

/// <summary>
/// The fused step over blockwise-quantized state: per block, every state plane is dequantized into a stack buffer,
/// the generated kernel updates the block in float32 (its own SIMD widths, state read from and written to the stack
/// buffer), then each plane's new absmax is taken and the block is requantized in place. One pass over memory: the
/// block never leaves L1.
/// </summary>
public static class BlockwiseDriver
{
    /// <summary>The most state planes a quantized rule may have (the stack buffer holds one block of each).</summary>
    public const int MaxPlanes = 16;

    /// <summary>The longest launch (one engine piece): the kernel addresses the stack buffer relative to the launch's first element.</summary>
    public const int MaxLength = 16384;

    /// <summary>Runs <paramref name="kernel"/> over <see cref="KernelArguments.Length"/> elements whose state is quantized.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run<TKernel, TParameter, TGradient>(in TKernel kernel, scoped in KernelArguments arguments)
        where TKernel : struct, IUpdateKernel
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
    {
        BlockwiseArguments q = arguments.Blockwise;
        BlockwiseCodebook[] books = q.Codebooks!;
        int planes = TKernel.StateCount;
        Debug.Assert(planes == books.Length && planes <= MaxPlanes, "one codebook per plane");
        Debug.Assert(arguments.Length <= MaxLength, "launches are engine pieces");
        int blockLength = books[0].BlockLength;
        int bits = books[0].Bits;
        float* stage = stackalloc float[planes * blockLength];
        int length = (int)arguments.Length;
        for (int start = 0, block = 0; start < length; start += blockLength, block++)
        {
            int count = Math.Min(blockLength, length - start);
            nint codeOffset = (nint)BlockwiseBlock.CodeBytes(start, bits);
            for (int k = 0; k < planes; k++)
            {
                float absmax = ((float*)q.Absmax)[(k * q.AbsmaxStride) + block];
                BlockwiseBlock.Dequantize(books[k], ref *(byte*)(q.Codes + (k * q.CodeStride) + codeOffset), absmax, new Span<float>(stage + (k * blockLength), count));
            }

            // The kernel indexes state as (k·stride + i) from its state base, with i the element's index in the
            // launch: the base is the stack buffer moved back by start elements (an address on this thread's stack,
            // never in the managed heap), so element start + j of plane k is stage[k·blockLength + j].
            UpdateDriver.RunRange<TKernel, TParameter, TGradient, Float32Codec>(
                in kernel,
                ref arguments.Parameters,
                ref arguments.Gradients,
                ref *(byte*)(stage - start),
                (nuint)blockLength,
                (nuint)start,
                (nuint)(start + count));

            for (int k = 0; k < planes; k++)
            {
                var values = new ReadOnlySpan<float>(stage + (k * blockLength), count);
                float absmax = BlockwiseBlock.Absmax(values);
                ((float*)q.Absmax)[(k * q.AbsmaxStride) + block] = absmax;
                BlockwiseBlock.Quantize(books[k], values, absmax, ref *(byte*)(q.Codes + (k * q.CodeStride) + codeOffset));
            }
        }
    }
}
