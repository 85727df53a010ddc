using System;
using System.Buffers;
using System.Runtime.InteropServices;

namespace OptGen.TorchSharp;

/// <summary>
/// The few LibTorchSharp entry points a step needs, called on the tensors' native handles so that a step allocates no
/// managed objects (TorchSharp's <c>Tensor.grad</c> makes a finalizable wrapper per call). The library is the one
/// TorchSharp has loaded; these functions are the ones its own <c>Tensor</c> members call.
/// </summary>
internal static partial class Native
{
    private const string Library = "LibTorchSharp";

    /// <summary><c>at::Tensor::data_ptr()</c>: the first element (storage plus offset).</summary>
    [LibraryImport(Library)]
    internal static partial nint THSTensor_data(nint handle);

    /// <summary>A new handle on the tensor's gradient, or zero when it has none; dispose it with <see cref="THSTensor_dispose"/>.</summary>
    [LibraryImport(Library)]
    internal static partial nint THSTensor_grad(nint handle);

    [LibraryImport(Library)]
    internal static partial void THSTensor_dispose(nint handle);

    [LibraryImport(Library)]
    internal static partial sbyte THSTensor_type(nint handle);

    [LibraryImport(Library)]
    internal static partial int THSTensor_device_type(nint handle);

    [LibraryImport(Library)]
    [return: MarshalAs(UnmanagedType.U1)]
    internal static partial bool THSTensor_is_contiguous(nint handle);

    [LibraryImport(Library)]
    internal static partial long THSTensor_numel(nint handle);
}

/// <summary>
/// A <see cref="Memory{T}"/> over native memory the optimizer does not own (a tensor's storage), re-aimed before
/// every step. Pinning is free: the memory never moves.
/// </summary>
internal sealed unsafe class NativeBuffer<T> : MemoryManager<T>
    where T : unmanaged
{
    private nint _pointer;
    private int _length;

    /// <summary>Points the buffer at <paramref name="length"/> elements from <paramref name="pointer"/>.</summary>
    public void Aim(nint pointer, int length)
    {
        _pointer = pointer;
        _length = length;
    }

    /// <summary>The memory the buffer is aimed at (a struct over this manager: no allocation).</summary>
    public Memory<T> Current => CreateMemory(_length);

    public override Span<T> GetSpan() => new((void*)_pointer, _length);

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, _length);
        return new MemoryHandle((T*)_pointer + elementIndex);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }
}
