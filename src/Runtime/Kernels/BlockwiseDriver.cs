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
/// The fused step over blockwise-quantized state: per chunk of blocks (512 elements for Adam), every state plane is
/// dequantized into a stack buffer, the generated kernel updates the chunk in float32 (its own SIMD widths, state read
/// from and written to the stack buffer), then each block's new absmax is taken and the block is requantized in
/// place. One pass over memory: the chunk never leaves L1.
/// </summary>
public static class BlockwiseDriver
{
    /// <summary>The most state planes a quantized rule may have (the stack buffer holds one block of each).</summary>
    public const int MaxPlanes = 16;

    /// <summary>The longest launch (one engine piece): the kernel addresses the stack buffer relative to the launch's first element.</summary>
    public const int MaxLength = 16384;

    /// <summary>
    /// Floats of stack buffer per launch (4 KiB, in L1): a chunk of blocks of every plane (512 elements of Adam's two
    /// planes). Longer chunks run faster in cache (2048: 0.62 ns per element for 8-bit Adam at 64K elements, 1024:
    /// 0.65) but slower from DRAM (4M elements: 0.95–1.07 against 0.72–0.74), where shorter bursts of p, g and codes
    /// let the memory time overlap the computation better; 512 is slower in both (0.69–0.73, 0.77–0.80).
    /// </summary>
    private const int StageFloats = 1024;

    /// <summary>Floats between one plane's chunk and the next (256 bytes): planes a multiple of 4 KiB apart would alias in the load-store unit.</summary>
    private const int PlaneStagger = 64;

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

        // Several blocks per kernel call (as many as fit StageFloats for all planes): the generated kernel's setup
        // and the codec's register tables are paid once per chunk instead of once per block.
        int chunk = blockLength * Math.Max(1, StageFloats / (planes * blockLength));
        int stride = chunk + PlaneStagger;
        float* stage = stackalloc float[planes * stride];
        int length = (int)arguments.Length;
        for (int start = 0; start < length; start += chunk)
        {
            int count = Math.Min(chunk, length - start);
            int firstBlock = start / blockLength;
            int whole = count / blockLength;        // whole blocks; then a shorter last one at a tensor's end
            int tail = count - (whole * blockLength);
            for (int k = 0; k < planes; k++)
            {
                BlockwiseCodebook book = books[k];
                float* absmax = (float*)q.Absmax + (k * q.AbsmaxStride) + firstBlock;
                byte* codes = (byte*)(q.Codes + (k * q.CodeStride)) + BlockwiseBlock.CodeBytes(start, bits);
                float* values = stage + (k * stride);
                BlockwiseBlock.DequantizeBlocks(book, ref *codes, new ReadOnlySpan<float>(absmax, whole), new Span<float>(values, whole * blockLength));
                if (tail > 0)
                {
                    BlockwiseBlock.Dequantize(book, ref codes[BlockwiseBlock.CodeBytes(whole * blockLength, bits)], absmax[whole], new Span<float>(values + (whole * blockLength), tail));
                }
            }

            // The kernel indexes state as (k·stride + i) from its state base, with i the element's index in the
            // launch: the base is the stack buffer moved back by start elements (an address on this thread's stack,
            // never in the managed heap), so element start + j of plane k is stage[k·stride + j].
            UpdateDriver.RunRange<TKernel, TParameter, TGradient, Float32Codec>(
                in kernel,
                ref arguments.Parameters,
                ref arguments.Gradients,
                ref *(byte*)(stage - start),
                (nuint)stride,
                (nuint)start,
                (nuint)(start + count));

            for (int k = 0; k < planes; k++)
            {
                BlockwiseCodebook book = books[k];
                float* absmax = (float*)q.Absmax + (k * q.AbsmaxStride);
                byte* codes = (byte*)(q.Codes + (k * q.CodeStride));
                // Every block's absmax first, then the codes: the absmax's fold and 1/absmax are latency chains
                // that the blocks' independent absmax passes overlap, instead of stalling each block's quantization.
                for (int j = 0, block = firstBlock; j < count; j += blockLength, block++)
                {
                    absmax[block] = BlockwiseBlock.Absmax(new ReadOnlySpan<float>(stage + (k * stride) + j, Math.Min(blockLength, count - j)));
                }

                for (int j = 0, block = firstBlock; j < count; j += blockLength, block++)
                {
                    var values = new ReadOnlySpan<float>(stage + (k * stride) + j, Math.Min(blockLength, count - j));
                    BlockwiseBlock.Quantize(book, values, absmax[block], ref codes[BlockwiseBlock.CodeBytes(start + j, bits)]);
                }
            }
        }
    }
}
