using System;
using System.Collections.Generic;

namespace OptGen;

/// <summary>Tensor shapes: what the rules with row, column or block reductions (Adafactor, Adam-mini) read.</summary>
public sealed partial class ParameterLayout
{
    // One entry per tensor: its shape, or null for a vector (a tensor created by length).
    private int[]?[]? _shapes;

    /// <summary>
    /// Creates a layout from the tensor shapes of each group: a tensor of shape [d₀, d₁, …] has d₀·d₁·… elements,
    /// stored row-major (the last dimension varies fastest). A tensor of one dimension is a vector.
    /// </summary>
    /// <param name="groups">One entry per group: the shapes of its tensors; every dimension ≥ 0, at least one dimension.</param>
    /// <exception cref="ArgumentNullException"><paramref name="groups"/>, a group or a shape is null.</exception>
    /// <exception cref="ArgumentException">There are no groups, a group has no tensors, a shape has no dimensions, a dimension is negative, or a tensor holds more elements than one buffer can address.</exception>
    public static ParameterLayout FromShapes(params IReadOnlyList<int[]>[] groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        var lengths = new IReadOnlyList<int>[groups.Length];
        var shapes = new List<int[]?>();
        for (int k = 0; k < groups.Length; k++)
        {
            if (groups[k] is null)
            {
                throw new ArgumentNullException(nameof(groups), $"Parameter group {k} is null.");
            }

            var groupLengths = new int[groups[k].Count];
            for (int j = 0; j < groupLengths.Length; j++)
            {
                int[] shape = groups[k][j] ?? throw new ArgumentNullException(nameof(groups), $"The shape of tensor {j} in group {k} is null.");
                if (shape.Length == 0)
                {
                    throw new ArgumentException($"The shape of tensor {j} in group {k} has no dimensions; a scalar is the shape [1].", nameof(groups));
                }

                long elements = 1;
                foreach (int dimension in shape)
                {
                    if (dimension < 0)
                    {
                        throw new ArgumentException($"The shape of tensor {j} in group {k}, [{string.Join(", ", shape)}], has a negative dimension.", nameof(groups));
                    }

                    elements *= dimension;
                    if (elements > Array.MaxLength)
                    {
                        throw new ArgumentException($"Tensor {j} in group {k}, of shape [{string.Join(", ", shape)}], holds more elements than one buffer can address.", nameof(groups));
                    }
                }

                // Rules keep state per row or per column of the matrix view (MatrixShapeOf), empty tensors included:
                // each count must fit one buffer too (an empty [46341, 0, 46341] has 46341² columns). The leading
                // dimensions' product is at most Array.MaxLength here (the loop above saw every prefix of it).
                if (shape.Length >= 2)
                {
                    long matrices = 1;
                    for (int d = 0; d < shape.Length - 2; d++)
                    {
                        matrices *= shape[d];
                    }

                    if (matrices * shape[^2] > Array.MaxLength || matrices * shape[^1] > Array.MaxLength)
                    {
                        throw new ArgumentException($"Tensor {j} in group {k}, of shape [{string.Join(", ", shape)}], has more rows or columns than one buffer can address (rules keep state per row or column, even of an empty tensor).", nameof(groups));
                    }
                }

                groupLengths[j] = (int)elements;
                shapes.Add(shape.Length == 1 ? null : (int[])shape.Clone());
            }

            lengths[k] = groupLengths;
        }

        var layout = new ParameterLayout(lengths);
        layout._shapes = shapes.ToArray();
        return layout;
    }

    /// <summary>
    /// Whether <paramref name="other"/> has the same groups of tensors of the same shapes (<see cref="HasSameShape"/>
    /// compares lengths only: a 2 × 3 and a 3 × 2 matrix have the same length, but not the same rows and columns for
    /// the rules that factor or block them).
    /// </summary>
    internal bool HasSameDimensions(ParameterLayout other)
    {
        if (!HasSameShape(other))
        {
            return false;
        }

        for (int j = 0; j < TensorCount; j++)
        {
            if (!ShapeOf(j).AsSpan().SequenceEqual(other.ShapeOf(j)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Tensor <paramref name="tensor"/>'s shape as given to <see cref="FromShapes"/>, or null for a vector (the index checked either way).</summary>
    private int[]? DeclaredShape(int tensor)
    {
        int checkedTensor = Tensor(tensor);
        return _shapes?[checkedTensor];
    }

    /// <summary>The shape of tensor <paramref name="tensor"/>: as given to <see cref="FromShapes"/>, or [length] for a vector.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tensor"/> is not in [0, <see cref="TensorCount"/>).</exception>
    public int[] ShapeOf(int tensor)
    {
        int[]? shape = DeclaredShape(tensor);
        return shape is null ? [LengthOf(tensor)] : (int[])shape.Clone();
    }

    /// <summary>The number of dimensions of tensor <paramref name="tensor"/>: 1 for a vector.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tensor"/> is not in [0, <see cref="TensorCount"/>).</exception>
    public int RankOf(int tensor) => DeclaredShape(tensor)?.Length ?? 1;

    /// <summary>
    /// Tensor <paramref name="tensor"/> seen as a stack of matrices over its last two dimensions: the number of
    /// matrices (the product of the leading dimensions), rows (the second-last dimension) and columns (the last).
    /// A vector of n elements is one 1 × n matrix.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tensor"/> is not in [0, <see cref="TensorCount"/>).</exception>
    public (int Matrices, int Rows, int Columns) MatrixShapeOf(int tensor)
    {
        int[]? shape = DeclaredShape(tensor);
        if (shape is null)
        {
            return (1, 1, LengthOf(tensor));
        }

        int rows = shape[^2];
        int columns = shape[^1];
        int matrices = 1;
        for (int d = 0; d < shape.Length - 2; d++)
        {
            matrices *= shape[d];
        }

        return (matrices, rows, columns);
    }
}
