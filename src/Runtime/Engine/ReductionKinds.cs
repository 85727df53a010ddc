// Also compiled into the generator (src/Generator/OptGen.Generator.csproj links this file): there the enums live in the
// generator's IR namespace, so the generator's reductions and the runtime's are one vocabulary, and the emitted code
// names the runtime's members by the same names (global::OptGen.ReductionKind.X, global::OptGen.ReductionScopeKind.X).
#if OPTGEN_GENERATOR
namespace OptGen.Generator.Ir;
#else
namespace OptGen;
#endif

/// <summary>How a generated rule's reduction combines the elements of one tensor, row, column or block (docs/expressions.md, "Reductions").</summary>
public enum ReductionKind
{
    /// <summary><c>sum(x)</c>: Σx.</summary>
    Sum,

    /// <summary><c>mean(x)</c>: Σx / n, with n the tensor's (row's, column's, block's) length; 0 when it is empty.</summary>
    Mean,

    /// <summary><c>norm(x)</c>: √(Σx²).</summary>
    Norm,

    /// <summary><c>maxabs(x)</c>: max |x| (0 when empty).</summary>
    MaxAbs,
}

/// <summary>Over which elements of a tensor a generated rule's reduction combines, or how a compact state is stored (docs/expressions.md, "Reductions").</summary>
public enum ReductionScopeKind
{
    /// <summary>The whole tensor: one value per tensor.</summary>
    Tensor,

    /// <summary>
    /// Each row of each matrix: the tensor seen as a stack of m × n matrices over its last two dimensions
    /// (<c>ParameterLayout.MatrixShapeOf</c>), one value per row of n elements. A vector of n is one 1 × n
    /// matrix: its one row is the whole vector.
    /// </summary>
    Row,

    /// <summary>Each column of each matrix: one value per column of m elements. A vector of n has n columns of one element each.</summary>
    Column,

    /// <summary>Each run of <c>ReductionScope.BlockLength</c> consecutive elements of the tensor, the last one possibly shorter.</summary>
    Block,

    /// <summary>Every tensor of the parameter group: one value per group, combined over its tensors in layout order.</summary>
    Group,

    /// <summary>Every tensor of the layout: one value per step, combined over the tensors in layout order.</summary>
    Global,
}
