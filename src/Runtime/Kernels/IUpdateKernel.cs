namespace OptGen.Kernels;

/// <summary>
/// A generated, fused per-element update: the rule's per-step scalars (its fields) and one update written once,
/// with a scalar form and Vector128/256/512 forms. <see cref="UpdateDriver"/> walks memory and calls it.
/// </summary>
/// <remarks>
/// The <c>Step</c> methods take the bases of the parameter, gradient and state buffers as byte references; state
/// buffer k of element i is element <c>k·stride + i</c> of the state base. The codecs say how elements are stored.
/// </remarks>
public interface IUpdateKernel
{
    /// <summary>The number of per-element state buffers the rule keeps.</summary>
    static abstract int StateCount { get; }

    /// <summary>Updates element <paramref name="i"/>.</summary>
    void Step<TParameter, TGradient, TState>(ref byte parameters, ref byte gradients, ref byte state, nuint stride, nuint i)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec;

    /// <summary>Updates the 4 elements starting at <paramref name="i"/>.</summary>
    void Step128<TParameter, TGradient, TState>(ref byte parameters, ref byte gradients, ref byte state, nuint stride, nuint i)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec;

    /// <summary>Updates the 8 elements starting at <paramref name="i"/>.</summary>
    void Step256<TParameter, TGradient, TState>(ref byte parameters, ref byte gradients, ref byte state, nuint stride, nuint i)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec;

    /// <summary>Updates the 16 elements starting at <paramref name="i"/>.</summary>
    void Step512<TParameter, TGradient, TState>(ref byte parameters, ref byte gradients, ref byte state, nuint stride, nuint i)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec;
}
